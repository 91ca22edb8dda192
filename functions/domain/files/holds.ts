// Which submits still need an uploaded file (docs/data.md, Files). Every submit that names a file records
// itself on the file (a hold); a delete is refused while a holder's jobs have not all ended. A holder whose
// jobs cannot be found is a submit still being written (or one that failed): it counts as live for
// SUBMIT_GRACE_MS, longer than any API request may take, and is dropped after.
import { FINAL_JOB_STATUSES, type Job, type JobStatus } from '../model';

/** API Gateway ends a request after 29 s; a submit's jobs are written by then or never */
export const SUBMIT_GRACE_MS = 60_000;
/** past this many holders a claim first drops the ended ones (bounds the item: DynamoDB's 400 KB) */
export const PRUNE_HOLDS_AT = 200;
/** live holders a file may have at once */
export const MAX_LIVE_HOLDS = 1_000;

export type HolderState = { live: false } | { live: true; jobId: string; status: JobStatus | 'SUBMITTING' };

/** `jobs`: the holder's jobs as read now (empty when none is found). */
export function holderState(jobs: readonly Pick<Job, 'id' | 'status'>[], heldAt: number, now: number): HolderState {
  if (jobs.length === 0) return now - heldAt < SUBMIT_GRACE_MS ? { live: true, jobId: '', status: 'SUBMITTING' } : { live: false };
  const waiting = jobs.find((j) => !FINAL_JOB_STATUSES.includes(j.status));
  return waiting ? { live: true, jobId: waiting.id, status: waiting.status } : { live: false };
}

/** The 409's words for a file some job still needs. */
export function stillNeeded(fileId: string, holder: string, s: Extract<HolderState, { live: true }>): string {
  if (s.status === 'SUBMITTING') return `file ${fileId} is named by a job being submitted now (${holder}); try again in a minute`;
  return `file ${fileId} is an input of job ${s.jobId}, which is ${s.status}; delete the file once the job has ended (or cancel it)`;
}
