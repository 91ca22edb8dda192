// The retry-queue adapter and the settings it is built from: one SendMessage per due attempt, delayed by
// the backoff; delays from WEBHOOK_RETRY_DELAYS_SECONDS are checked against the SQS maximum.
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { RetryMessageSchema, WebhookRetryQueue } from '../../functions/store/webhook-retries';
import { DEFAULT_WEBHOOKS } from '../../functions/usecases/webhook-settings';
import { settingsFromEnv } from '../../functions/settings/env';

const webhookSettingsFromEnv = (env: Record<string, string>) => settingsFromEnv(env).webhooks;

const sqs = mockClient(SQSClient);
afterEach(() => sqs.reset());
const URL_ = 'https://sqs.eu-west-1.amazonaws.com/123456789012/Webhooks-RetryQueue';

describe('WebhookRetryQueue', () => {
  it('sends {jobId, attempt} with the delay as DelaySeconds', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
    await new WebhookRetryQueue(new SQSClient({ region: 'eu-west-1' }), URL_).schedule({ jobId: 'j1', attempt: 3 }, 600);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, { QueueUrl: URL_, DelaySeconds: 600, MessageBody: JSON.stringify({ jobId: 'j1', attempt: 3 }) });
  });

  it.each([
    [{ jobId: 'j', attempt: 1 }],
    [{ jobId: '', attempt: 2 }],
    [{ jobId: 'j', attempt: 2, extra: 1 }],
    [{ jobId: 'j', attempt: '2' }],
  ])('a message like %j is not a retry', (m) => expect(RetryMessageSchema.safeParse(m).success).toBe(false));
});

describe('webhook settings from the environment', () => {
  it('defaults to the cloud rules and 10 s, 60 s, 600 s', () => {
    expect(webhookSettingsFromEnv({})).toEqual(DEFAULT_WEBHOOKS);
    expect(DEFAULT_WEBHOOKS).toMatchObject({ allowAddresses: [], httpAllowedFor: [], retryDelaysSeconds: [10, 60, 600] });
  });
  it('reads the queue URL and delays', () => {
    expect(webhookSettingsFromEnv({ WEBHOOK_RETRY_QUEUE_URL: URL_, WEBHOOK_RETRY_DELAYS_SECONDS: '5,30' })).toMatchObject({ retryQueueUrl: URL_, retryDelaysSeconds: [5, 30] });
  });
  it('refuses a delay SQS cannot hold', () => expect(() => webhookSettingsFromEnv({ WEBHOOK_RETRY_DELAYS_SECONDS: '10,1000' })).toThrow(/900/));
});
