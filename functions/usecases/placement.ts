// Placement: read a bounded set of the cheapest candidates, rank them with the matcher, and claim the
// best with one conditional transaction. A lost race moves on to the next candidate; the job is never
// placed twice because the claim is conditioned on the job's version.
import { DomainError } from '../domain/errors';
import { allShards } from '../store/shard';
import { place } from '../domain/job/transitions';
import { explain, rank } from '../domain/matcher/pipeline';
import type { Job } from '../domain/model';
import { CapacityRaceError } from '../store/jobs-store';
import { InsufficientFundsError } from '../store/ledger-store';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { savePendingReason } from './pending-reason';
import { tryPlaceGang } from './gang-placement';
import { readQueue } from './fair-queue';
import { isGang } from '../domain/job/gang';
import { replicaAvoid, serviceSpread } from './replicas';
import { gpuWait, isCounted, jobGpus } from '../domain/account-limits';
import { accountView, claimUnderLimits, isWait, type AccountView } from './account-limits';
import { CandidateView, runtimePolicy } from './candidate-view';
import { sweepHeld } from './dependencies';
import { attemptHold } from '../domain/job/new-attempt';

/** How many ranked candidates to try before leaving the job for the sweep. */
const MAX_CLAIM_TRIES = 5;

/**
 * Bounded work per sweep: candidate reads (8 index queries each, one per distinct model set) are capped
 * in all and per account, so a backlog of jobs with ever new model sets costs its account its own turns
 * and the sweep a fixed number of queries (docs/scheduling.md).
 */
export const SWEEP_READ_BUDGET = { total: 64, perAccount: 4 };

/** Index shards the inline match reads first; the others only when those hold too few nodes that fit. */
const SAMPLE_SHARDS = 2;
/** Fitting nodes the sample must hold to be trusted; fewer, and the other shards are read too. */
const SAMPLE_MIN_FITS = 4;

/**
 * The inline match at submit: power of k choices over the candidate index. Two random shards of the
 * cheapest nodes (a quarter of the reads) hold a real choice in a large pool; when they hold fewer than
 * SAMPLE_MIN_FITS fitting nodes (a small pool), the other shards are read too, so a job that fits anywhere
 * is placed at once and a small pool's cheapest node is never missed by chance.
 */
async function sampledMatch(d: Deps, job: Job, matchJob: Parameters<typeof rank>[0]): Promise<ReturnType<typeof rank>> {
  const order = allShards();
  for (let i = order.length - 1; i > 0; i--) {
    const k = Math.floor(d.random() * (i + 1));
    [order[i], order[k]] = [order[k], order[i]];
  }
  const sample = await d.nodes.available(job.resources.gpuModels, d.settings.candidatesPerShard, order.slice(0, SAMPLE_SHARDS));
  const first = rank(matchJob, sample, d.random);
  // a real choice in the sample (a large pool): take it; a small pool must not lose its cheapest node to chance
  if (first.ranked.length >= SAMPLE_MIN_FITS) return first;
  const rest = await d.nodes.available(job.resources.gpuModels, d.settings.candidatesPerShard, order.slice(SAMPLE_SHARDS));
  return rank(matchJob, [...sample, ...rest], d.random);
}

/**
 * The job's account as placement conditions on it, and why the job waits for the account's GPU limit
 * (checked before any candidate read: a job over its account's limit costs the sweep one cached read).
 */
export async function accountGate(d: Deps, job: Job, view?: CandidateView, first?: AccountView): Promise<{ first?: AccountView; wait?: string }> {
  if (!isCounted(job)) return {};
  const acct = first ?? (view ? await view.accounts.get(job.accountId) : await accountView(d, job.accountId));
  return { first: view ? undefined : acct, wait: gpuWait(acct.limits, acct.usage, jobGpus(job)) };
}

/** `first`: the account as the submit just read it (saves a read); a sweep reads accounts through `view`. */
export async function tryPlace(d: Deps, job: Job, view?: CandidateView, first?: AccountView): Promise<Job> {
  // held: waits for its dependencies (usecases/dependencies.ts), not for capacity
  if (job.status !== 'QUEUED' || job.held || (job.notBefore && job.notBefore > d.now())) return job;
  const gate = await accountGate(d, job, view, first);
  // over its account's GPU limit: waits, and the sweep goes on to other jobs
  if (gate.wait) return savePendingReason(d, job, gate.wait);
  // all ranks or none, in one transaction
  if (isGang(job)) return tryPlaceGang(d, job, view, gate.first);
  const t0 = performance.now();
  // a pinned job (a checker's canary) looks only at its node, which need not be among the cheapest
  const pinned = job.pinNodeId ? await d.nodes.get(job.pinNodeId) : undefined;
  // a replica of a replicated job keeps off its siblings' nodes (and, if it can, their providers); a
  // service's replica prefers nodes and providers its other replicas are not on
  const matchJob = {
    ...job,
    ...(job.replicaGroup ? { replicaAvoid: await replicaAvoid(d, job) } : {}),
    ...(job.service ? { serviceSpread: await serviceSpread(d, job) } : {}),
    runtimePolicy: runtimePolicy(d),
  };
  const viewed = view && !job.pinNodeId ? await view.for(job) : undefined;
  // over the sweep's read budget: passed over this time, its pendingReason left as it was
  if (view && !job.pinNodeId && !viewed) return job;
  const result = job.pinNodeId ? rank(matchJob, pinned ? [pinned] : [], d.random) : viewed ? rank(matchJob, viewed, d.random) : await sampledMatch(d, job, matchJob);
  let short: number | undefined;
  // the account's limits: why it waits, and the smallest hold its daily spend limit refused
  let limitWait: string | undefined;
  let overSpend: number | undefined;
  for (const { node } of result.ranked.slice(0, MAX_CLAIM_TRIES)) {
    const hold = attemptHold(job, node.pricePerGpuHour);
    // the consumer could not cover a cheaper hold: this one will not fit either
    if (short !== undefined && hold >= short) continue;
    if (overSpend !== undefined && hold >= overSpend) continue;
    try {
      const claimed = await claimUnderLimits(d, job, hold, (guard) => applyTransition(d, job, (j) => place(j, node, d.newId(), d.now()), { nodes: { [node.id]: node }, guard }), {
        cache: view?.accounts,
        first: gate.first,
      });
      if (isWait(claimed)) {
        limitWait = claimed.wait;
        // a cheaper node's hold may still fit the day's spend; GPUs are the same on every node
        if (claimed.limit === 'gpus') break;
        overSpend = hold;
        continue;
      }
      const placed = claimed;
      view?.claimed(node.id, job.resources.gpus);
      d.metrics.placement(performance.now() - t0);
      return placed;
    } catch (e) {
      if (e instanceof CapacityRaceError) {
        view?.raced(node.id);
        continue;
      }
      if (e instanceof InsufficientFundsError) {
        short = hold;
        continue;
      }
      if (e instanceof DomainError && e.code === 'conflict') return (await d.jobs.get(job.id)) ?? job;
      throw e;
    }
  }
  if (result.ranked.length) d.metrics.placementFailure();
  const pendingReason = limitWait ??
    (short !== undefined
      ? `insufficient credits: the escrow hold is ${short / 1_000_000} ${d.settings.ledger.symbol} (price × ${job.resources.gpus} GPUs × ${job.maxDurationSeconds} s)`
      : result.ranked.length
        ? 'candidates were taken concurrently; waiting for the next sweep'
        : explain(result));
  return savePendingReason(d, job, pendingReason);
}

/** Freed capacity asks for placement (placement-wake.ts): a bounded sweep, run apart from the request. */
export const wakePlacement = (d: Deps): Promise<void> => d.placementWake.wake(() => sweep(d, { maxJobs: 8 }));

/**
 * Places waiting jobs: higher priority first, and within a priority accounts in turn, each oldest first
 * (fair-queue.ts, docs/scheduling.md). Returns how many were placed. `full` (the scheduled sweep; the
 * default without maxJobs) also reads the global queue head and keeps the account markers; a bounded
 * sweep after a finish reads only the queues the markers name.
 */
export async function sweep(d: Deps, opts: { maxJobs?: number; full?: boolean } = {}): Promise<number> {
  const { jobs: queued, read } = await readQueue(d, opts.maxJobs ?? 200, opts.full ?? opts.maxJobs === undefined);
  let placed = 0;
  const view = new CandidateView(d, SWEEP_READ_BUDGET);
  for (const j of queued) {
    // the index is eventually consistent; the claim is conditioned on the job's version anyway
    if (j.status !== 'QUEUED') continue;
    const after = await tryPlace(d, j, view);
    if (after.status === 'ASSIGNED') placed++;
  }
  // only the scheduled (full) sweep reports the queue: a bounded one after a finish sees a sample
  if (opts.maxJobs === undefined) d.metrics.queuedJobs(read - placed);
  // and decides again a page of held jobs, should a dependency's end have failed to decide them
  if (opts.full ?? opts.maxJobs === undefined) await sweepHeld(d);
  return placed;
}
