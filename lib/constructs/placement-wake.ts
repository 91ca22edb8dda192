// The placement queue: freed capacity (a finish, a node back in service, stake that brings nodes online)
// sends a wake; the sweep function consumes them, at most two batches at once, so placements do not race
// each other for the same nodes (functions/usecases/placement-wake.ts).
import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import type { NodeFunction } from './node-function';

export interface PlacementWakeProps {
  /** the sweep function */
  readonly sweep: NodeFunction;
  /** functions whose requests free capacity: they may send wakes, nothing else */
  readonly wakers: readonly NodeFunction[];
}

export class PlacementWakeQueue extends Construct {
  public readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PlacementWakeProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // a wake older than the scheduled sweep's period is worth nothing: that sweep has placed the jobs
      retentionPeriod: Duration.minutes(2),
      visibilityTimeout: Duration.seconds(props.sweep.fn.timeout!.toSeconds() * 6),
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'A wake is a hint: one that cannot be processed is dropped, and the scheduled sweep places the jobs within its period. A dead-letter queue would only collect empty messages.',
    });
    // a batch of wakes is one bounded sweep; two at most run at once (the least SQS allows)
    props.sweep.fn.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, maxConcurrency: 2 }));
    for (const f of props.wakers) {
      this.queue.grantSendMessages(f.role);
      f.addEnvironment('PLACEMENT_QUEUE_URL', this.queue.queueUrl);
    }
  }
}
