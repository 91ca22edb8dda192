// Consumer-facing job use cases. Tenancy is checked here: another account's job is "not found".
import { DomainError, notFound } from '../domain/errors';
import { cancel as cancelT } from '../domain/job/transitions';
import type { Caller, Job } from '../domain/model';
import type { SubmitJob } from '../domain/schemas';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { tryPlace } from './placement';

export async function submitJob(d: Deps, caller: Caller, body: SubmitJob): Promise<Job> {
  const now = d.now();
  const job: Job = {
    ...body,
    id: d.newId(),
    accountId: caller.accountId,
    status: 'QUEUED',
    attempts: [],
    createdAt: now,
    queuedAt: now,
    version: 0,
  };
  await d.jobs.create(job);
  // inline match: a free node starts the job within this request
  return tryPlace(d, job);
}

export async function getOwnJob(d: Deps, caller: Caller, id: string): Promise<Job> {
  const job = await d.jobs.get(id);
  if (!job || (caller.role !== 'admin' && job.accountId !== caller.accountId)) throw notFound('job');
  return job;
}

export async function listJobs(d: Deps, caller: Caller, limit: number, cursor?: string) {
  return d.jobs.listByAccount(caller.accountId, limit, cursor);
}

export async function cancelJob(d: Deps, caller: Caller, id: string): Promise<Job> {
  // the job may move (the agent starts it) between read and write: re-read and try again
  for (let tries = 0; ; tries++) {
    const job = await getOwnJob(d, caller, id);
    try {
      return await applyTransition(d, job, (j) => cancelT(j, d.now()));
    } catch (e) {
      if (!(e instanceof DomainError && e.message === 'job changed concurrently') || tries >= 4) throw e;
    }
  }
}

export async function jobLogs(d: Deps, caller: Caller, id: string, after: number, limit: number) {
  await getOwnJob(d, caller, id);
  return d.logs.read(id, after, limit);
}
