// Consumer-facing job use cases. Tenancy is checked here: another account's job is "not found".
import { arrayJobId } from '../domain/job/array-id';
import { DomainError, notFound } from '../domain/errors';
import { cancel as cancelT } from '../domain/job/transitions';
import type { Caller, Job } from '../domain/model';
import type { SubmitJob } from '../domain/schemas';
import { checkInputs } from './files';
import { withClaims } from './file-library';
import { checkSecretRefs } from './secrets';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { retrying } from './retry';
import { tryPlace } from './placement';
import { groupOf, replicaJobs } from './replicas';
import { admissionError, queueFull, type CountedJob } from '../domain/account-limits';
import { AccountLimitError, StaleAccountError } from '../store/account-usage';
import { accountView, type AccountView } from './account-limits';
import { checkAfter, decide, linkDependents } from './dependencies';
import { holdJob } from '../domain/job/dependencies';

export type JobSpec = Omit<SubmitJob, 'array'>;

/** What a submit checks before it writes anything: the secrets and files it names are the caller's own (docs/data.md). */
export async function checkReferences(d: Deps, caller: Caller, spec: JobSpec): Promise<void> {
  await checkSecretRefs(d, caller.accountId, spec);
  if (spec.inputs) await checkInputs(d, caller, spec.inputs);
}

/** A job as a submit writes it: QUEUED, and counted in the account's limits from now on (domain/account-limits.ts). */
export const queuedJob = (spec: JobSpec, caller: Caller, id: string, now: number): CountedJob => ({
  ...spec,
  id,
  accountId: caller.accountId,
  status: 'QUEUED',
  attempts: [],
  createdAt: now,
  queuedAt: now,
  version: 0,
  limitsCounted: true,
});

export async function submitJob(d: Deps, caller: Caller, body: SubmitJob): Promise<Job> {
  const { array: _a, ...spec } = body;
  await checkReferences(d, caller, spec);
  if (spec.after) return (await submitHeld(d, caller, [queuedJob(spec, caller, d.newId(), d.now())]))[0];
  const job = queuedJob(spec, caller, d.newId(), d.now());
  // a replicated job is its replicas, each an ordinary job (functions/usecases/replicas.ts)
  const jobs = replicaJobs(job);
  // recorded on each file before the job exists, so a delete racing this submit sees it (file-library.ts)
  const acct = await withClaims(d, caller, spec.inputs, job.id, () => admit(d, jobs));
  // inline match: a free node starts the job within this request (replicas one after the other, so
  // each sees where the previous ones went)
  const placed = await tryPlace(d, jobs[0], undefined, acct);
  const rest = [];
  for (const j of jobs.slice(1)) rest.push(await tryPlace(d, j));
  // still waiting: the account's queue marker lets the next sweep read this account's queue
  if ([placed, ...rest].some((j) => j.status === 'QUEUED')) await d.jobs.accounts.note(caller.accountId);
  return placed;
}

/**
 * A job array (docs/api.md, Arrays): `size` jobs `<arrayId>-<index>` with one spec, each told its index.
 * Admitted all or none like a replicated job: the queue limit counts every one of them. The inline match
 * places them in order until one has to wait (the rest then wait too: no free node fits); the sweep
 * places the rest.
 */
export async function submitArray(d: Deps, caller: Caller, body: SubmitJob & { array: { size: number } }): Promise<{ id: string; size: number; jobs: Job[] }> {
  const now = d.now();
  const { array, ...spec } = body;
  await checkReferences(d, caller, spec);
  const id = d.newId();
  const jobs: CountedJob[] = Array.from({ length: array.size }, (_, index) => ({
    ...queuedJob(spec, caller, arrayJobId(id, index), now),
    arrayMember: { id, index, size: array.size },
  }));
  if (spec.after) return { id, size: array.size, jobs: await submitHeld(d, caller, jobs) };
  const acct = await withClaims(d, caller, spec.inputs, id, () => admit(d, jobs));
  const out: Job[] = [];
  let waiting = false;
  for (const [k, j] of jobs.entries()) {
    const placed: Job = waiting ? j : await tryPlace(d, j, undefined, k === 0 ? acct : undefined);
    waiting ||= placed.status === 'QUEUED';
    out.push(placed);
  }
  if (waiting) await d.jobs.accounts.note(caller.accountId);
  return { id, size: array.size, jobs: out };
}

/**
 * Jobs that wait for others (`after`; usecases/dependencies.ts): checked to be the caller's own, listed on
 * each dependency, created held (counted in the queue limit, never placed), then decided at once from the
 * dependencies as they are now, so a job whose dependency already ended is released or failed here. A
 * released job is placed like any other: inline now, or by the sweep.
 */
async function submitHeld(d: Deps, caller: Caller, jobs: CountedJob[]): Promise<Job[]> {
  const after = jobs[0].after!;
  await checkAfter(d, caller, after);
  const held = jobs.map((j) => holdJob(j));
  await linkDependents(d, after, held.map((j) => j.id));
  // its files are claimed like any submit's (file-library.ts): the holder is the job, or the array
  await withClaims(d, caller, jobs[0].inputs, jobs[0].arrayMember?.id ?? jobs[0].id, () => admit(d, held));
  const cache = new Map<string, Promise<Job | undefined>>();
  const out: Job[] = [];
  let waiting = false;
  for (const j of held) {
    const decided = (await decide(d, j, cache)).job ?? j;
    const placed: Job = decided.status === 'QUEUED' && !decided.held && !waiting ? await tryPlace(d, decided) : decided;
    waiting ||= placed.status === 'QUEUED' && !placed.held;
    out.push(placed);
  }
  return out;
}

/** An array member's id: never a plain job's (a ulid has no '-') nor a replica's (`-r<k>`). */
/** The caller's array `arrayId`, in index order from `from`, as read from its first member (not found for another account's). */
export async function listArray(d: Deps, caller: Caller, arrayId: string, limit: number, from = 0): Promise<{ items: Job[]; next?: number }> {
  const first = await getOwnJob(d, caller, arrayJobId(arrayId, 0)).catch(() => undefined);
  if (!first?.arrayMember || first.arrayMember.id !== arrayId) throw notFound('array');
  const end = Math.min(first.arrayMember.size, from + limit);
  const items = await Promise.all(Array.from({ length: Math.max(0, end - from) }, (_, k) => d.jobs.get(arrayJobId(arrayId, from + k))));
  return { items: items.filter((j): j is Job => !!j), ...(end < first.arrayMember.size ? { next: end } : {}) };
}

/** Cancels every member of the caller's array that has not ended; returns how many it cancelled. */
export async function cancelArray(d: Deps, caller: Caller, arrayId: string): Promise<{ id: string; size: number; cancelled: number }> {
  const first = await getOwnJob(d, caller, arrayJobId(arrayId, 0)).catch(() => undefined);
  if (!first?.arrayMember || first.arrayMember.id !== arrayId) throw notFound('job');
  let cancelled = 0;
  for (let i = 0; i < first.arrayMember.size; i++) {
    await cancelOne(d, caller, arrayJobId(arrayId, i)).then(
      () => cancelled++,
      (e) => {
        if (!(e instanceof DomainError)) throw e; // already ended: nothing to cancel
      },
    );
  }
  return { id: arrayId, size: first.arrayMember.size, cancelled };
}

/**
 * Admission under the account's limits: a priority above its cap or a job that could never fit its GPU
 * limit is refused (403) before anything is written; the jobs are created, all or none, in one
 * transaction with the account's queue counter, conditioned on the queue limit, so concurrent submits
 * can never pass it. Returns the account as read (placement conditions on it too).
 */
export async function admit(d: Deps, jobs: Job[]): Promise<AccountView> {
  return retrying(
    async (attempt) => {
      const acct = await accountView(d, jobs[0].accountId, attempt > 0);
      const refusal = admissionError(jobs[0], acct.limits);
      if (refusal) throw refusal;
      if (acct.usage.queuedJobs + jobs.length > acct.limits.maxQueuedJobs && attempt > 0) throw queueFull(acct.limits, jobs.length);
      try {
        await d.jobs.createAll(jobs, { marker: false, guard: acct.guard });
        return acct;
      } catch (e) {
        if (e instanceof AccountLimitError) throw queueFull(acct.limits, jobs.length);
        throw e;
      }
    },
    // an admin changed the limits meanwhile: judge the submit by the new ones
    { retries: ADMIT_RETRIES, on: (e) => e instanceof StaleAccountError },
  );
}

// the count as it was; a placement's claimUnderLimits retries the same error 3 times, a renewal 3
const ADMIT_RETRIES = 4;

export async function getOwnJob(d: Deps, caller: Caller, id: string): Promise<Job> {
  const job = await d.jobs.get(id);
  if (!job || (caller.role !== 'admin' && job.accountId !== caller.accountId)) throw notFound('job');
  return job;
}

export async function listJobs(d: Deps, caller: Caller, limit: number, cursor?: string) {
  return d.jobs.listByAccount(caller.accountId, limit, cursor);
}

export async function cancelJob(d: Deps, caller: Caller, id: string): Promise<Job> {
  const job = await cancelOne(d, caller, id);
  // cancelling any replica cancels the group: a verification with replicas missing decides nothing
  for (const other of groupOf(job)?.ids.filter((x) => x !== id) ?? []) {
    await cancelOne(d, caller, other).catch((e) => {
      if (!(e instanceof DomainError)) throw e; // already ended: nothing to cancel
    });
  }
  return job;
}

// the job may move (the agent starts or finishes it, the reaper ends it) between read and write: a few
// re-reads cover those few writers; a job still moving after that is answered 409, and the caller may retry
const CANCEL_RETRIES = 4;

async function cancelOne(d: Deps, caller: Caller, id: string): Promise<Job> {
  const job = await getOwnJob(d, caller, id);
  return applyTransition(d, job, (j) => cancelT(j, d.now()), { retries: CANCEL_RETRIES });
}

export async function jobLogs(d: Deps, caller: Caller, id: string, after: number, limit: number) {
  await getOwnJob(d, caller, id);
  return d.logs.read(id, after, limit);
}
