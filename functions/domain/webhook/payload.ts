// What a webhook carries: the final job, as GET /v1/jobs/{id} shows it, in an envelope that names the
// event. `id` is stable across attempts (the job id), so a receiver can drop a repeat it already handled.
import { FINAL_JOB_STATUSES, type Job } from '../model';

export const WEBHOOK_EVENT = 'job.finished';

export interface WebhookEnvelope<V> {
  /** the same for every attempt of this job's delivery */
  id: string;
  type: typeof WEBHOOK_EVENT;
  /** 1-based attempt number; a receiver may see 2, 3, 4 after failing to answer 2xx */
  attempt: number;
  /** epoch ms when this attempt was sent */
  sentAt: number;
  job: V;
}

export function webhookEnvelope<V>(jobId: string, view: V, attempt: number, sentAt: number): WebhookEnvelope<V> {
  return { id: `evt_${jobId}`, type: WEBHOOK_EVENT, attempt, sentAt, job: view };
}

/**
 * Whether a change of a job item (stream old and new images) is the one that ended a job with a webhook.
 * A write to a job that was already final (settlement, a repeated write) is not: it was announced.
 */
export function endedWithWebhook(oldJob: Pick<Job, 'status'> | undefined, newJob: Pick<Job, 'status' | 'webhook'> | undefined): boolean {
  if (!newJob?.webhook?.url || !FINAL_JOB_STATUSES.includes(newJob.status)) return false;
  return !oldJob || !FINAL_JOB_STATUSES.includes(oldJob.status);
}

/** Bounded text for a delivery record: an error message or nothing. */
export const clip = (s: string, max = 200) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
