// Fixed-rate EventBridge rules that run the scheduled functions (sweep, reaper, later checker, burst).
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface ScheduledJob {
  /** construct id of the rule, e.g. 'Sweep' */
  readonly name: string;
  readonly description: string;
  readonly fn: lambda.IFunction;
  /** whole minutes, 1..60 */
  readonly rateMinutes: number;
}

export interface SchedulesProps {
  readonly jobs: readonly ScheduledJob[];
}

/**
 * One rule per job. A run that fails is not retried by EventBridge: the next tick, a minute later,
 * does the same work again, and every state change it makes is conditional, so late or repeated
 * runs are harmless while retries would only pile up overlapping runs.
 */
export class Schedules extends Construct {
  public readonly rules: ReadonlyMap<string, events.Rule>;

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    const rules = new Map<string, events.Rule>();
    for (const job of props.jobs) {
      if (!Number.isInteger(job.rateMinutes) || job.rateMinutes < 1 || job.rateMinutes > 60) {
        throw new Error(`${job.name}: rateMinutes must be an integer in 1..60`);
      }
      if (rules.has(job.name)) throw new Error(`${id}: duplicate schedule ${job.name}`);
      const rule = new events.Rule(this, job.name, {
        description: job.description,
        schedule: events.Schedule.rate(Duration.minutes(job.rateMinutes)),
        targets: [new targets.LambdaFunction(job.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(job.rateMinutes) })],
      });
      rules.set(job.name, rule);
    }
    this.rules = rules;
  }
}
