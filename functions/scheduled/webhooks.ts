// The webhooks function. Two event sources feed it: the jobs table's stream (NEW_AND_OLD_IMAGES; on AWS
// filtered to final jobs with a webhook, here checked again) and the retry queue (one message per due
// attempt). Failures are reported per record (reportBatchItemFailures), so one bad receiver never holds
// the others back; a record whose delivery merely failed is not a failure here: it was recorded and retried.
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { RetryMessageSchema } from '../store/webhook-retries';
import { logger } from '../observability/logger';
import { deliver, onJobChange, webhookPorts, type ChangedJob, type WebhookPorts } from '../usecases/webhooks';
import { lambdaRoot, type DepsRoot } from '../wiring/lambda-root';

type WebhookEvent = { Records: (DynamoDBRecord | SQSRecord)[] };

/**
 * Deliveries in flight at once per invocation, each up to the 10 s send timeout: as large as the stream's
 * batch (lib/constructs/webhooks.ts), so a batch of slow receivers takes one timeout, not several.
 */
export const WEBHOOK_CONCURRENCY = 25;

const isMessage = (r: DynamoDBRecord | SQSRecord): r is SQSRecord => 'messageId' in r;
type Image = Record<string, { S?: string; M?: Record<string, { S?: string }> } | undefined>;
/**
 * The three fields a change is judged by, read straight from the stream image. Not a full unmarshall: the
 * delivery re-reads the job anyway, and some stream readers hand an empty map back as `{}`, which
 * unmarshall refuses.
 */
function image(i: unknown): ChangedJob | undefined {
  const img = i as Image | undefined;
  const id = img?.id?.S;
  const status = img?.status?.S;
  if (!id || !status) return undefined;
  const url = img.webhook?.M?.url?.S;
  return { id, status: status as ChangedJob['status'], ...(url ? { webhook: { url } } : {}) };
}

async function handleRecord(p: WebhookPorts, r: DynamoDBRecord | SQSRecord): Promise<void> {
  if (!isMessage(r)) {
    await onJobChange(p, image(r.dynamodb?.OldImage), image(r.dynamodb?.NewImage));
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body);
  } catch {
    parsed = undefined;
  }
  const m = RetryMessageSchema.safeParse(parsed);
  // a message we cannot read can never succeed: drop it (logged) rather than retry it into the DLQ
  if (!m.success) return logger.warn('webhook retry: unreadable message', { messageId: r.messageId });
  await deliver(p, m.data.jobId, m.data.attempt);
}

const idOf = (r: DynamoDBRecord | SQSRecord) => (isMessage(r) ? r.messageId : (r.dynamodb?.SequenceNumber ?? ''));

/** Handles a batch; the answer lists the records to be tried again. */
export async function handleWebhookEvent(p: WebhookPorts, event: WebhookEvent) {
  const failures: { itemIdentifier: string }[] = [];
  const queue = [...event.Records];
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      try {
        await handleRecord(p, r);
      } catch (e) {
        logger.error('webhook record failed', { id: idOf(r), error: String((e as Error).message ?? e) });
        failures.push({ itemIdentifier: idOf(r) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WEBHOOK_CONCURRENCY, queue.length) }, worker));
  return { batchItemFailures: failures };
}

export const webhooksHandler = (root: DepsRoot) => {
  let ports: WebhookPorts | undefined;
  return async (event: WebhookEvent) => handleWebhookEvent((ports ??= webhookPorts(root())), event);
};

export const handler = webhooksHandler(lambdaRoot());
