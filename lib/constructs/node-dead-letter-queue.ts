// The one dead-letter queue every per-node queue redrives into. The per-node queues themselves are
// created at runtime (one per registered node), so this queue is the only SQS resource in the template.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface NodeDeadLetterQueueProps {
  /** how long a dead message stays for inspection. @default 14 days (the SQS maximum) */
  readonly retention?: Duration;
}

/**
 * Messages land here when a node's agent received them maxReceiveCount times without deleting them:
 * a crashing agent or a poison message. DynamoDB stays the truth (the reaper re-places the job), so
 * a message here is a symptom to look at, never lost work; the alarm says there is one.
 */
export class NodeDeadLetterQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: NodeDeadLetterQueueProps = {}) {
    super(scope, id);
    const retention = props.retention ?? Duration.days(14);
    if (retention.toSeconds() < 60 || retention.toSeconds() > Duration.days(14).toSeconds()) {
      throw new Error('NodeDeadLetterQueue: retention must be between 1 minute and 14 days');
    }

    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: retention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue. The per-node queues that redrive into it are created at runtime with RedrivePolicy pointing at NODE_DLQ_ARN, so no source queue appears in the template.',
    });

    this.alarm = new cloudwatch.Alarm(this, 'NotEmptyAlarm', {
      alarmDescription: 'gpupool: messages in the node dead-letter queue (an agent keeps failing to process its work messages)',
      metric: this.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
