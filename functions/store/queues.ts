// Per-node SQS queues: created when a node opens a session, each redriving to the shared DLQ.
// DynamoDB holds the truth; a message only tells a node to look, so a lost or repeated one is harmless.
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { QueueMessage } from '../domain/agent-protocol';

export interface QueuesConfig {
  /** queue names are `${prefix}${nodeId}` */
  prefix: string;
  /** ARN of the shared dead-letter queue, if any */
  dlqArn?: string;
  /** seconds a received message stays hidden: longer than the agent's start call takes */
  visibilityTimeoutSeconds: number;
  /** receives before a message goes to the DLQ */
  maxReceiveCount: number;
  /** test switch: send every message twice (proves duplicate delivery is harmless) */
  duplicateSends?: boolean;
}

export class Queues {
  constructor(
    private readonly sqs: SQSClient,
    private readonly cfg: QueuesConfig,
  ) {}

  queueName(nodeId: string) {
    return `${this.cfg.prefix}${nodeId}`;
  }

  /** Idempotent: CreateQueue with the same attributes returns the existing queue. */
  async ensure(nodeId: string): Promise<string> {
    const r = await this.sqs.send(
      new CreateQueueCommand({
        QueueName: this.queueName(nodeId),
        Attributes: {
          VisibilityTimeout: String(this.cfg.visibilityTimeoutSeconds),
          MessageRetentionPeriod: String(4 * 24 * 3600),
          SqsManagedSseEnabled: 'true',
          ...(this.cfg.dlqArn ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: this.cfg.dlqArn, maxReceiveCount: this.cfg.maxReceiveCount }) } : {}),
        },
        tags: { 'gpupool:node': nodeId },
      }),
    );
    return r.QueueUrl!;
  }

  /** Sends to a node's queue, re-creating it if it vanished (e.g. the local SQS server restarted). */
  async sendToNode(nodeId: string, queueUrl: string, message: QueueMessage): Promise<void> {
    try {
      await this.send(queueUrl, message);
    } catch (e) {
      if (!/QueueDoesNotExist|NonExistentQueue/.test((e as Error).name)) throw e;
      await this.send(await this.ensure(nodeId), message);
    }
  }

  async send(queueUrl: string, message: QueueMessage): Promise<void> {
    const body = JSON.stringify(message);
    await this.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    if (this.cfg.duplicateSends) await this.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  }

  async depth(queueUrl: string): Promise<number> {
    const r = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    return Number(r.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  async remove(queueUrl: string): Promise<void> {
    await this.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  }
}
