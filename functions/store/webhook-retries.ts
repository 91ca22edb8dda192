// The webhook retry queue: a failed attempt schedules the next one as an SQS message delayed by the
// backoff (DelaySeconds ≤ 900). The message only says which attempt is due; the claim in the webhooks
// table decides whether it is sent, so a repeated message sends nothing twice.
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';

export const RetryMessageSchema = z.strictObject({ jobId: z.string().min(1).max(64), attempt: z.number().int().min(2).max(20) });
export type RetryMessage = z.infer<typeof RetryMessageSchema>;

export interface RetryQueuePort {
  schedule(m: RetryMessage, delaySeconds: number): Promise<void>;
}

export class WebhookRetryQueue implements RetryQueuePort {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async schedule(m: RetryMessage, delaySeconds: number): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(m), DelaySeconds: delaySeconds }));
  }
}
