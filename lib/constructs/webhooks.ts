// Completion webhooks on AWS: the jobs table's stream and a retry queue feed the webhooks function.
// - Stream: filtered at the event source mapping to jobs in a final state that name a webhook, so the
//   function is not invoked for the many other job writes (placements, starts, heartbeats' deadlines).
//   Starts at LATEST: a first deploy does not announce old jobs. bisect + per-record failures + a DLQ
//   for records that keep failing (a DynamoDB or code fault; a receiver's failure is recorded, not thrown).
// - Retry queue: a failed attempt queues the next with DelaySeconds (10 s, 60 s, 600 s; ≤ 900).
//   Visibility is 6× the function timeout (AWS's guidance for SQS sources); a message that keeps
//   failing goes to the same DLQ after 5 receives.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FINAL_JOB_STATUSES } from '../../functions/domain/model';
import { DEFAULT_RETRY_DELAYS_SECONDS, validateDelays } from '../../functions/domain/webhook/schedule';
import { addSettings } from '../stage-settings';
import type { NodeFunction } from './node-function';

export interface WebhooksProps {
  /** the webhooks function (functions/scheduled/webhooks.ts) */
  readonly fn: NodeFunction;
  /** the jobs table; it must have a NEW_AND_OLD_IMAGES stream */
  readonly jobsTable: dynamodb.ITable;
  /** @default DEFAULT_RETRY_DELAYS_SECONDS (10, 60, 600) */
  readonly retryDelaysSeconds?: readonly number[];
  /** @default Duration.seconds(60): the function's timeout, from which the queue's visibility follows */
  readonly functionTimeout?: Duration;
}

export class Webhooks extends Construct {
  public readonly retryQueue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly dlqAlarm: cloudwatch.Alarm;
  public readonly streamMapping: lambda.EventSourceMapping;

  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    const delays = validateDelays(props.retryDelaysSeconds ?? DEFAULT_RETRY_DELAYS_SECONDS);
    if (!props.jobsTable.tableStreamArn) throw new Error(`${id}: the jobs table needs a stream`);
    const timeout = props.functionTimeout ?? Duration.seconds(60);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the webhook retry queue and of the jobs-stream event source.',
    });
    this.retryQueue = new sqs.Queue(this, 'RetryQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    const fn = props.fn.fn;
    // a mapping of our own rather than DynamoEventSource: its grant includes dynamodb:ListStreams on "*"
    const streamArn = props.jobsTable.tableStreamArn;
    props.fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'], resources: [streamArn] }),
    );
    this.streamMapping = new lambda.EventSourceMapping(this, 'JobsStream', {
      target: fn,
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.LATEST,
      // with WEBHOOK_CONCURRENCY (25) sends in flight, a batch of slow receivers (10 s each) ends in about
      // one send timeout, far inside the 60 s function timeout
      batchSize: 25,
      maxBatchingWindow: Duration.seconds(1),
      bisectBatchOnError: true,
      retryAttempts: 10,
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(this.deadLetterQueue),
      filters: [
        lambda.FilterCriteria.filter({
          dynamodb: { NewImage: { status: { S: lambda.FilterRule.or(...FINAL_JOB_STATUSES) }, webhook: { M: { url: { S: lambda.FilterRule.exists() } } } } },
        }),
      ],
    });
    fn.addEventSource(new SqsEventSource(this.retryQueue, { batchSize: 10, reportBatchItemFailures: true }));
    this.retryQueue.grantSendMessages(props.fn.role);
    addSettings(props.fn, { webhooks: { retryQueueUrl: this.retryQueue.queueUrl, retryDelaysSeconds: delays } });

    this.dlqAlarm = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: 'gpupool: webhook records or retries the webhooks function could not process (a fault, not a receiver failing)',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
