// Completion webhooks: when a job with a webhook ends, POST the final job to it, signed, and retry with
// backoff. Nothing here touches the job's transitions: the trigger is a change of the job item (the jobs
// table's stream), and retries come back as SQS messages. Every attempt is claimed in the webhooks table
// before it is sent, so repeated stream records and messages send nothing twice (docs/webhooks.md).
import { FINAL_JOB_STATUSES, type Caller, type Job } from '../domain/model';
import { jobView } from '../domain/job/view';
import { clip, endedWithWebhook, webhookEnvelope } from '../domain/webhook/payload';
import { isDelivered, retryDelay } from '../domain/webhook/schedule';
import { SIGNATURE_HEADER, signatureHeader } from '../domain/webhook/signing';
import { webhookTarget } from '../domain/webhook/target';
import { DomainError } from '../domain/errors';
import type { JobsStore } from '../store/jobs-store';
import type { RetryQueuePort } from '../store/webhook-retries';
import { httpWebhookSender, type WebhookSender } from '../store/webhook-sender';
import { signingSecrets, type DeliveryAttempt, type WebhooksStore } from '../store/webhooks-store';
import { getAccount } from './accounts';
import type { Deps } from './deps';
import type { WebhookSettings } from './webhook-settings';

export interface WebhookPorts {
  jobs: Pick<JobsStore, 'get'>;
  webhooks: WebhooksStore;
  /** absent: failed attempts are recorded but not retried */
  retries?: RetryQueuePort;
  send: WebhookSender;
  settings: WebhookSettings;
  now: () => number;
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'duplicate' | 'skipped';

/** What a change of a job item is judged by (the stream's old and new images). */
export type ChangedJob = Pick<Job, 'id' | 'status' | 'webhook'>;

/** A change of a job item: delivers attempt 1 when it is the change that ended a job with a webhook. */
export async function onJobChange(p: WebhookPorts, oldJob: ChangedJob | undefined, newJob: ChangedJob | undefined): Promise<DeliveryOutcome> {
  if (!newJob || !endedWithWebhook(oldJob, newJob)) return 'skipped';
  return deliver(p, newJob.id, 1);
}

/** Sends attempt `attempt` (1-based) of a job's webhook, unless another caller claimed it. */
export async function deliver(p: WebhookPorts, jobId: string, attempt: number): Promise<DeliveryOutcome> {
  // the job as it is now (the stream image may be older); only final jobs are announced
  const job = await p.jobs.get(jobId);
  if (!job?.webhook || !FINAL_JOB_STATUSES.includes(job.status)) return 'skipped';
  const at = p.now();
  if (!(await p.webhooks.claim(jobId, attempt, at, p.settings.leaseMs))) {
    await rescheduleLostRetry(p, jobId, attempt, at);
    return 'duplicate';
  }
  const secret = await p.webhooks.secret(job.accountId, at);
  const body = JSON.stringify(webhookEnvelope(job.id, jobView(job, at), attempt, at));
  const result = await p.send(job.webhook.url, body, {
    [SIGNATURE_HEADER]: signatureHeader(signingSecrets(secret, at), Math.floor(at / 1000), body),
    'Gpupool-Event-Id': `evt_${job.id}`,
    'Gpupool-Attempt': String(attempt),
    'user-agent': 'gpupool-webhooks/1',
  });
  const end = p.now();
  const statusCode = 'statusCode' in result ? result.statusCode : undefined;
  const delivered = isDelivered(statusCode);
  const delay = delivered || !p.retries ? undefined : retryDelay(attempt, p.settings.retryDelaysSeconds);
  const record: DeliveryAttempt = {
    jobId,
    attempt,
    state: delivered ? 'DELIVERED' : 'FAILED',
    at,
    durationMs: end - at,
    ...(statusCode !== undefined ? { statusCode } : {}),
    ...('error' in result ? { error: clip(result.error) } : {}),
    ...(delay !== undefined ? { nextRetryAt: end + delay * 1000 } : {}),
  };
  // recorded before the retry is queued: a lost queue send is healed by a repeat of this attempt's trigger
  const mine = await p.webhooks.record(record, at);
  if (mine && delay !== undefined) await p.retries!.schedule({ jobId, attempt: attempt + 1 }, delay);
  return delivered ? 'delivered' : 'failed';
}

/**
 * A repeated trigger of an attempt that already failed: if its retry was recorded but the next attempt was
 * never claimed, the queue send may have been lost (a crash between the two), so queue it again. A second
 * message for the same attempt is harmless: its claim fails.
 */
async function rescheduleLostRetry(p: WebhookPorts, jobId: string, attempt: number, now: number) {
  if (!p.retries) return;
  const done = await p.webhooks.getAttempt(jobId, attempt);
  if (done?.state !== 'FAILED' || done.nextRetryAt === undefined) return;
  if (await p.webhooks.getAttempt(jobId, attempt + 1)) return;
  await p.retries.schedule({ jobId, attempt: attempt + 1 }, Math.min(900, Math.max(0, Math.ceil((done.nextRetryAt - now) / 1000))));
}

/** Refuses, at submit, a webhook URL that no delivery could use here (scheme, IP literal class). */
export function checkWebhookUrl(url: string, s: Pick<WebhookSettings, 'allowAddresses' | 'httpAllowedFor'>): void {
  const t = webhookTarget(url, s);
  if ('problem' in t) throw new DomainError('validation_failed', 'invalid body', [{ path: 'webhook.url', message: t.problem }]);
}

/** The delivery attempts of a job with a webhook, for its answer. */
export async function deliveriesOf(d: Deps, job: Job) {
  if (!job.webhook) return undefined;
  const attempts = await d.webhooks.list(job.id);
  return attempts.map((a) => ({
    attempt: a.attempt,
    state: a.state,
    at: a.at,
    statusCode: a.statusCode ?? null,
    error: a.error ?? null,
    durationMs: a.durationMs ?? null,
    nextRetryAt: a.nextRetryAt ?? null,
  }));
}

const secretView = (accountId: string, s: { current: string; createdAt: number; rotatedAt?: number; previousExpiresAt?: number }, now: number) => ({
  accountId,
  secret: s.current,
  createdAt: s.createdAt,
  rotatedAt: s.rotatedAt ?? null,
  // while this is in the future, deliveries are signed with the previous secret too
  previousValidUntil: s.previousExpiresAt && s.previousExpiresAt > now ? s.previousExpiresAt : null,
});

/** The account's signing secret, created on first need (admin or the account itself). */
export async function getWebhookSecret(d: Deps, caller: Caller, accountId: string) {
  await getAccount(d, caller, accountId);
  const now = d.now();
  return secretView(accountId, await d.webhooks.secret(accountId, now), now);
}

/** A new signing secret; the old one keeps signing for the grace period (settings.webhooks.secretGraceMs). */
export async function rotateWebhookSecret(d: Deps, caller: Caller, accountId: string) {
  await getAccount(d, caller, accountId);
  const now = d.now();
  return secretView(accountId, await d.webhooks.rotate(accountId, now, d.settings.webhooks.secretGraceMs), now);
}

/** The ports a delivery needs, from the process's deps: the real HTTP sender under the settings' address rules. */
export function webhookPorts(d: Deps): WebhookPorts {
  const s = d.settings.webhooks;
  return {
    jobs: d.jobs,
    webhooks: d.webhooks,
    retries: d.webhookRetries,
    send: httpWebhookSender({ rules: s, timeoutMs: s.timeoutMs }),
    settings: s,
    now: d.now,
  };
}
