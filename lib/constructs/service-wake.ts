// The services' wake queue (docs/services.md, Scaling): a routing tier that finds a service loaded beyond
// its replicas sends the service's id; the services function reconciles it at once instead of at its
// one-minute tick (functions/scheduled/services.ts, functions/router/wake.ts).
import { Duration, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import type { NodeFunction } from './node-function';

export interface ServiceWakeProps {
  /** the services' reconciler (the tick's function) */
  readonly reconciler: NodeFunction;
}

export class ServiceWakeQueue extends Construct {
  public readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ServiceWakeProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // a wake older than the tick's period is worth nothing: the tick has reconciled the service
      retentionPeriod: Duration.minutes(2),
      visibilityTimeout: Duration.seconds(props.reconciler.fn.timeout!.toSeconds() * 6),
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'A wake is a hint: one that cannot be processed is dropped, and the one-minute tick reconciles the service. A dead-letter queue would only collect service ids.',
    });
    // a batch of wakes is one pass over the named services; two at most at once
    props.reconciler.fn.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, maxConcurrency: 2 }));
  }

  /** Lets a routing tier's task role send wakes, and nothing else on the queue. */
  grantWake(role: iam.IGrantable): void {
    this.queue.grantSendMessages(role);
  }
}
