// Placement: read a bounded set of the cheapest candidates, rank them with the matcher, and claim the
// best with one conditional transaction. A lost race moves on to the next candidate; the job is never
// placed twice because the claim is conditioned on the job's version.
import { DomainError } from '../domain/errors';
import { place } from '../domain/job/transitions';
import { explain, rank } from '../domain/matcher/pipeline';
import type { Job } from '../domain/model';
import { CapacityRaceError } from '../store/jobs-store';
import type { Deps } from './deps';
import { applyTransition } from './effects';

/** How many ranked candidates to try before leaving the job for the sweep. */
const MAX_CLAIM_TRIES = 5;

export async function tryPlace(d: Deps, job: Job): Promise<Job> {
  if (job.status !== 'QUEUED' || (job.notBefore && job.notBefore > d.now())) return job;
  const candidates = await d.nodes.available(job.resources.gpuModels, d.settings.candidatesPerShard);
  const result = rank(job, candidates, d.random);
  for (const { node } of result.ranked.slice(0, MAX_CLAIM_TRIES)) {
    try {
      return await applyTransition(d, job, (j) => place(j, node, d.newId(), d.now()), { [node.id]: node });
    } catch (e) {
      if (e instanceof CapacityRaceError) continue;
      if (e instanceof DomainError && e.code === 'conflict') return (await d.jobs.get(job.id)) ?? job;
      throw e;
    }
  }
  const pendingReason = result.ranked.length ? 'candidates were taken concurrently; waiting for the next sweep' : explain(result);
  if (pendingReason === job.pendingReason) return job;
  try {
    return await d.jobs.apply(job, { job: { ...job, pendingReason, version: job.version + 1 }, effects: [] }, {});
  } catch (e) {
    if (e instanceof DomainError && e.code === 'conflict') return (await d.jobs.get(job.id)) ?? job;
    throw e;
  }
}

const queueOrder = (j: Job) => [-j.priority, j.createdAt] as const;

/** Places waiting jobs, highest priority and oldest first. Returns how many were placed. */
export async function sweep(d: Deps, opts: { maxJobs?: number } = {}): Promise<number> {
  const queued = await d.jobs.queued(Math.max(1, Math.ceil((opts.maxJobs ?? 200) / 4)));
  queued.sort((a, b) => {
    const [pa, ca] = queueOrder(a);
    const [pb, cb] = queueOrder(b);
    return pa - pb || ca - cb;
  });
  let placed = 0;
  for (const j of queued.slice(0, opts.maxJobs ?? 200)) {
    const fresh = await d.jobs.get(j.id);
    if (!fresh || fresh.status !== 'QUEUED') continue;
    const after = await tryPlace(d, fresh);
    if (after.status === 'ASSIGNED') placed++;
  }
  return placed;
}
