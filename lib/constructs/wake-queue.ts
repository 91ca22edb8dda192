// A wake queue: a hint that some work is due now rather than at its schedule's next tick. Two use it:
// - placement: freed capacity (a finish, a node back in service, stake that brings nodes online) wakes the
//   sweep, so placements do not race each other for the same nodes (functions/usecases/placement-wake.ts);
// - services: a routing tier that finds a service loaded beyond its replicas sends the service's id, and the
//   reconciler runs at once instead of at its one-minute tick (functions/scheduled/services.ts,
//   functions/router/wake.ts; the router stack grants itself sending).
import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import type { NodeFunction } from './node-function';

export interface WakeQueueProps {
  /** the function a wake runs (the scheduled one whose tick would otherwise do the work) */
  readonly consumer: NodeFunction;
  /** functions that may send wakes, and nothing else on the queue; they get the queue's URL in this variable */
  readonly senders?: { readonly functions: readonly NodeFunction[]; readonly urlEnv: string };
  /** what does the work when a wake is lost, for the acknowledged missing dead-letter queue */
  readonly fallback: string;
}

export class WakeQueue extends Construct {
  public readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: WakeQueueProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // a wake older than the consumer's schedule period is worth nothing: the tick has done the work
      retentionPeriod: Duration.minutes(2),
      visibilityTimeout: Duration.seconds(props.consumer.fn.timeout!.toSeconds() * 6),
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: `A wake is a hint: one that cannot be processed is dropped, and ${props.fallback}. A dead-letter queue would only collect hints.`,
    });
    // a batch of wakes is one bounded pass; two at most run at once (the least SQS allows)
    props.consumer.fn.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, maxConcurrency: 2 }));
    for (const f of props.senders?.functions ?? []) {
      this.queue.grantSendMessages(f.role);
      f.addEnvironment(props.senders!.urlEnv, this.queue.queueUrl);
    }
  }
}
