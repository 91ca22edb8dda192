// The checker's deployment: its signing secret, and one EventBridge rule per shard that runs the checker
// function every minute with {"shard": n}. The shards run side by side, so 10,000 nodes are probed within
// one period while no invocation runs long (docs/checkers.md has the arithmetic).
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { envNameOf } from '../../functions/settings/env';
import { addSettings } from '../stage-settings';
import type { NodeFunction } from './node-function';

export interface CheckerProps {
  /** the checker function (functions/scheduled/checker.ts); it signs probes */
  readonly checker: NodeFunction;
  /** functions that hand the control plane's public key to agents (the agent API) */
  readonly publishers: readonly NodeFunction[];
  /** index shards (SHARDS): one rule, and so one invocation per period, each */
  readonly shards: number;
  /** @default 1 */
  readonly rateMinutes?: number;
  readonly stage: string;
}

/** the variable the functions read the secret's ARN from (the settings table, functions/settings/table.ts) */
export const SIGNING_SECRET_ENV = envNameOf('checker.signingSecretArn');

export class Checker extends Construct {
  public readonly signingSecret: secretsmanager.Secret;
  public readonly rules: readonly events.Rule[];

  constructor(scope: Construct, id: string, props: CheckerProps) {
    super(scope, id);
    const rateMinutes = props.rateMinutes ?? 1;
    if (!Number.isInteger(rateMinutes) || rateMinutes < 1 || rateMinutes > 60) throw new Error(`${id}: rateMinutes must be an integer in 1..60`);
    if (!Number.isInteger(props.shards) || props.shards < 1 || props.shards > 64) throw new Error(`${id}: shards must be an integer in 1..64`);

    // 64 letters and digits (~381 bits); the Ed25519 seed is SHA-256 of it (functions/domain/checker/signing.ts)
    this.signingSecret = new secretsmanager.Secret(this, 'SigningSecret', {
      description: `gpupool ${props.stage}: seed of the control plane's Ed25519 probe-signing key`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    Validations.of(this.signingSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Agents learn the public key from their session answer and trust it until their next session; rotating the seed would make every agent refuse probes until it reconnects. Rotate by hand (new secret value, then agents reconnect within their credential lifetime), as docs/checkers.md says.',
    });
    addSettings(props.checker.bindSecret(this.signingSecret, SIGNING_SECRET_ENV), { checker: { periodMs: rateMinutes * 60_000 } });
    for (const fn of props.publishers) fn.bindSecret(this.signingSecret, SIGNING_SECRET_ENV);

    this.rules = Array.from(
      { length: props.shards },
      (_, shard) =>
        new events.Rule(this, `Shard${shard}`, {
          description: `gpupool: probe the nodes of shard ${shard}, judge canaries`,
          schedule: events.Schedule.rate(Duration.minutes(rateMinutes)),
          // no retries: the next period probes again; a late duplicate run is harmless (conditional writes)
          targets: [
            new targets.LambdaFunction(props.checker.fn, {
              event: events.RuleTargetInput.fromObject({ shard }),
              retryAttempts: 0,
              maxEventAge: Duration.minutes(rateMinutes),
            }),
          ],
        }),
    );
  }
}
