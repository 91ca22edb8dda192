// Why a job waits, saved on it: shared by single-node and gang placement.
import { DomainError } from '../domain/errors';
import type { Job } from '../domain/model';
import type { Deps } from './deps';

/** Says why a job waits (a conditional put; a job that moved meanwhile is read back instead). */
export async function savePendingReason(d: Deps, job: Job, pendingReason: string): Promise<Job> {
  if (pendingReason === job.pendingReason) return job;
  try {
    return await d.jobs.apply(job, { job: { ...job, pendingReason, version: job.version + 1 }, effects: [] }, {});
  } catch (e) {
    if (e instanceof DomainError && e.code === 'conflict') return (await d.jobs.get(job.id)) ?? job;
    throw e;
  }
}
