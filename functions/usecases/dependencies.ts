// Job dependencies (`after`): checked at submit, decided when a dependency ends (effects.ts calls
// `afterEnd` once a job reaches a final state) and by the scheduled sweep as a safety net for a decision
// lost between the end's write and its dependents' (a crash, a failed write). Rules: domain/job/dependencies.ts.
//
// Why no dependent is missed: a submit records its ids on the dependency's `<id>#dependents` item before it
// creates the jobs, then reads the dependencies (consistently) and decides at once any whose dependency
// already ended; an end writes the final state, then reads that item. Whichever of the two writes came
// second sees the other's. Deciding is one conditional write on the held job's version, so racing deciders
// (two ends, the sweep, the submit) end or release it exactly once.
import { DomainError, JobChangedError } from '../domain/errors';
import { failForDependency, release, rewait, verdict, waitingReason, type Verdict } from '../domain/job/dependencies';
import type { Caller, Job } from '../domain/model';
import type { Deps } from './deps';
import { logger } from '../observability/logger';
import { retrying } from './retry';

/** concurrent decisions when many jobs wait for one (an array) */
const CONCURRENCY = 16;
/** held jobs the scheduled sweep checks per shard and run (in turns: a rotating cursor per process) */
const HELD_PER_SHARD = 8;
const DECIDE_RETRIES = 4;

type DepReads = Map<string, Promise<Job | undefined>>;
const read = (d: Deps, cache: DepReads, id: string) => {
  let p = cache.get(id);
  if (!p) cache.set(id, (p = d.jobs.get(id)));
  return p;
};

/**
 * The submit's check: every id names a job of the caller's own account. Another account's job and a
 * missing one get the same 404 with the same words, so `after` never tells whether another tenant's job exists.
 */
export async function checkAfter(d: Deps, caller: Caller, after: readonly string[]): Promise<void> {
  const jobs = await Promise.all(after.map((id) => d.jobs.get(id)));
  const bad = after.findIndex((id, i) => !jobs[i] || jobs[i]!.accountId !== caller.accountId);
  if (bad >= 0) throw new DomainError('not_found', `job ${after[bad]} not found`, [{ path: `after.${bad}`, message: 'no such job of yours' }]);
}

/** Before the held jobs are created: each dependency lists them (see the top of this file for why first). */
export async function linkDependents(d: Deps, after: readonly string[], ids: readonly string[]): Promise<void> {
  for (const dep of after) await d.jobs.dependents.link(dep, ids);
}

export type Decision = 'released' | 'failed' | 'waiting' | 'none';

/**
 * Decides one held job from its dependencies' states (read through `cache`, shared by the jobs one call
 * decides): released into the queue, failed, or left waiting with the reason brought up to date.
 * `job`: the job as the caller holds it (saves a read); it is read again after a lost race.
 */
export async function decide(d: Deps, jobOrId: Job | string, cache: DepReads = new Map()): Promise<{ decision: Decision; job?: Job }> {
  const first = typeof jobOrId === 'string' ? await d.jobs.get(jobOrId) : jobOrId;
  return retrying(
    async (attempt): Promise<{ decision: Decision; job?: Job }> => {
      // another decider (or a cancel) moved the job first: read it again and decide from what it is now
      const job = attempt === 0 || !first ? first : await d.jobs.get(first.id);
      if (!job || job.status !== 'QUEUED' || !job.held || !job.after) return { decision: 'none', job };
      const deps = new Map(await Promise.all(job.after.map(async (id) => [id, await read(d, cache, id)] as const)));
      const v: Verdict = verdict(job.after, deps);
      if (v.kind === 'wait' && job.pendingReason === waitingReason(v.on)) return { decision: 'waiting', job };
      const t = v.kind === 'ready' ? release(job, d.now()) : v.kind === 'failed' ? failForDependency(job, v, d.now()) : rewait(job, v.on);
      const after = await d.jobs.apply(job, t, {});
      // a failed job may itself be waited for: its dependents end too (a chain ends link by link)
      if (v.kind === 'failed') await afterEnd(d, after);
      // in the queue now: the account's marker lets the next sweep (or the end's placement wake) read it
      if (v.kind === 'ready') await d.jobs.accounts.note(after.accountId);
      return { decision: v.kind === 'ready' ? 'released' : v.kind === 'failed' ? 'failed' : 'waiting', job: after };
    },
    { retries: DECIDE_RETRIES, on: (e) => e instanceof JobChangedError },
  );
}

/** Decides `ids`, a few at a time; a failure is logged and left to the sweep's safety net. */
async function decideAll(d: Deps, ids: readonly string[], cache: DepReads): Promise<Decision[]> {
  const out: Decision[] = [];
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id; id = queue.shift()) {
      try {
        out.push((await decide(d, id, cache)).decision);
      } catch (e) {
        if (!(e instanceof DomainError)) logger.warn('dependency decision failed; the sweep retries it', { jobId: id, error: e });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));
  return out;
}

/**
 * A job reached a final state: the jobs waiting for it are decided now. Never fails its caller (the end
 * is already written): what goes wrong here is left to the sweep. One consistent read when nobody waits.
 */
export async function afterEnd(d: Deps, job: Job): Promise<void> {
  try {
    const ids = await d.jobs.dependents.of(job.id);
    if (ids.length) await decideAll(d, ids, new Map([[job.id, Promise.resolve(job)]]));
  } catch (e) {
    logger.warn('dependents not decided; the sweep retries them', { jobId: job.id, error: e });
  }
}

let heldCursor: Record<number, string> = {};

/** The scheduled sweep's safety net: a bounded page of held jobs, decided again (in turns across runs). */
export async function sweepHeld(d: Deps): Promise<Decision[]> {
  const page = await d.jobs.dependents.held(HELD_PER_SHARD, heldCursor);
  heldCursor = page.cursor;
  return decideAll(d, page.ids, new Map());
}
