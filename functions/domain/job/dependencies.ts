// Job dependencies (`after`, docs/scheduling.md, Dependencies). A job submitted with `after: [ids]` is
// held: QUEUED, but out of the sweep's queue, until every job it names has SUCCEEDED; it is released into
// the queue then, or ends FAILED (DEPENDENCY_FAILED) as soon as one of them ends any other way. Pure: the
// use case (usecases/dependencies.ts) reads the dependencies and writes the transition.
//
//   held QUEUED ──all dependencies SUCCEEDED──► QUEUED (in the queue, placed like any job)
//        │
//        └──one FAILED / CANCELLED / TIMED_OUT (or gone)──► FAILED (DEPENDENCY_FAILED)
//
// Cycles cannot form: a job may only name jobs that already exist, and its own id is new.
import { conflict } from '../errors';
import { FINAL_JOB_STATUSES, type Job, type JobStatus } from '../model';

/** jobs one submit may wait for (each is read when the job is decided: a bounded cost) */
export const MAX_AFTER = 20;
/** jobs that may wait for one job (the ids are kept on one item: docs/data-model.md) */
export const MAX_DEPENDENTS = 5000;

export type Verdict = { kind: 'wait'; on: string } | { kind: 'ready' } | { kind: 'failed'; on: string; status: JobStatus | 'MISSING' };

/**
 * What the dependencies' states decide, in the order they were named: the first one that ended other
 * than SUCCEEDED fails the job; otherwise the first one not yet ended keeps it waiting.
 */
export function verdict(after: readonly string[], deps: ReadonlyMap<string, Pick<Job, 'status'> | undefined>): Verdict {
  let waitOn: string | undefined;
  for (const id of after) {
    const dep = deps.get(id);
    if (!dep) return { kind: 'failed', on: id, status: 'MISSING' };
    if (dep.status === 'SUCCEEDED') continue;
    if (FINAL_JOB_STATUSES.includes(dep.status)) return { kind: 'failed', on: id, status: dep.status };
    waitOn ??= id;
  }
  return waitOn === undefined ? { kind: 'ready' } : { kind: 'wait', on: waitOn };
}

export const waitingReason = (on: string) => `waiting for job ${on} to succeed`;

/** A held job as the submit writes it. */
export const holdJob = <J extends Job>(job: J): J => ({ ...job, held: true, pendingReason: waitingReason(job.after![0]) });

/** Every dependency SUCCEEDED: the job enters the queue now (its queue TTL counts from here). */
export function release(job: Job, now: number): { job: Job; effects: [] } {
  if (job.status !== 'QUEUED' || !job.held) throw conflict('job is not held');
  const { held: _h, pendingReason: _p, ...rest } = job;
  return { job: { ...rest, queuedAt: now, version: job.version + 1 }, effects: [] };
}

/** A dependency ended other than SUCCEEDED: the held job ends too (it never held escrow: nothing to release). */
export function failForDependency(job: Job, failed: { on: string; status: JobStatus | 'MISSING' }, now: number): { job: Job; effects: [] } {
  if (job.status !== 'QUEUED' || !job.held) throw conflict('job is not held');
  const { held: _h, pendingReason: _p, ...rest } = job;
  return {
    job: { ...rest, status: 'FAILED', reason: 'DEPENDENCY_FAILED', failedDependency: { id: failed.on, status: failed.status }, finishedAt: now, version: job.version + 1 },
    effects: [],
  };
}

/** A job still waiting with a better reason: the dependency it now waits on. */
export function rewait(job: Job, on: string): { job: Job; effects: [] } {
  if (job.status !== 'QUEUED' || !job.held) throw conflict('job is not held');
  return { job: { ...job, pendingReason: waitingReason(on), version: job.version + 1 }, effects: [] };
}
