// Placing a gang: pick `nodes` distinct nodes and claim them all in one transaction with the job's write
// and every rank's escrow hold — all ranks or none. A lost race names the node that moved; the gang is
// picked again without it, so a busy pool costs retries, never a partial gang.
import { DomainError } from '../domain/errors';
import { placeGang } from '../domain/job/gang';
import { pickGang } from '../domain/matcher/gang';
import type { Job } from '../domain/model';
import { CapacityRaceError } from '../store/jobs-store';
import { InsufficientFundsError } from '../store/ledger-store';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { savePendingReason } from './pending-reason';
import { runtimePolicy, type CandidateView } from './candidate-view';
import { claimUnderLimits, isWait, type AccountView } from './account-limits';
import { attemptHold } from '../domain/job/new-attempt';
import { retrying } from './retry';

/** a gang holds every rank's escrow */
const gangHold = (job: Job, nodes: readonly { pricePerGpuHour: number }[]) => nodes.reduce((s, n) => s + attemptHold(job, n.pricePerGpuHour), 0);

/** How many times a gang is picked in all, again after losing a node to a concurrent claim. */
const MAX_GANG_TRIES = 5;
const RACED = 'candidates were taken concurrently; waiting for the next sweep';

/** `first`: the account as the caller read it (placement.ts accountGate); a sweep reads it through `view`. */
export async function tryPlaceGang(d: Deps, job: Job, view?: CandidateView, first?: AccountView): Promise<Job> {
  const t0 = performance.now();
  const candidates = view ? await view.for(job) : await d.nodes.available(job.resources.gpuModels, d.settings.candidatesPerShard);
  // over the sweep's read budget: passed over this time
  if (!candidates) return job;
  const raced = new Set<string>();
  const outcome = await retrying<Job | { waits: string }>(
    async () => {
      const pick = pickGang({ ...job, runtimePolicy: runtimePolicy(d) }, candidates.filter((n) => !raced.has(n.id)), d.random);
      if (!pick.nodes) return { waits: pick.reason };
      const nodes = pick.nodes;
      // a gang holds every rank's escrow and counts every rank's GPUs against its account's limits
      const hold = gangHold(job, nodes);
      try {
        const ids = nodes.map(() => d.newId());
        const claimed = await claimUnderLimits(
          d,
          job,
          hold,
          (guard) => applyTransition(d, job, (j) => placeGang(j, nodes, ids, d.now()), { nodes: Object.fromEntries(nodes.map((n) => [n.id, n])), guard }),
          { cache: view?.accounts, first },
        );
        if (isWait(claimed)) return { waits: claimed.wait };
        for (const n of nodes) view?.claimed(n.id, job.resources.gpus);
        d.metrics.placement(performance.now() - t0);
        return claimed;
      } catch (e) {
        // a node taken concurrently: the gang is picked again without it
        if (e instanceof CapacityRaceError && e.nodeId) {
          raced.add(e.nodeId);
          view?.raced(e.nodeId);
          throw e;
        }
        if (e instanceof InsufficientFundsError) {
          return { waits: `insufficient credits: the escrow hold of the gang is ${hold / 1_000_000} ${d.settings.ledger.symbol} (price × ${job.resources.gpus} GPUs × ${job.maxDurationSeconds} s on each of ${nodes.length} nodes)` };
        }
        if (e instanceof DomainError && e.code === 'conflict') return (await d.jobs.get(job.id)) ?? job;
        if (e instanceof CapacityRaceError) return { waits: RACED };
        throw e;
      }
    },
    { retries: MAX_GANG_TRIES - 1, on: (e) => e instanceof CapacityRaceError && !!e.nodeId, exhausted: () => ({ waits: RACED }) },
  );
  // placed, or the job as another writer left it
  if (!('waits' in outcome)) return outcome;
  if (raced.size) d.metrics.placementFailure();
  return savePendingReason(d, job, outcome.waits);
}
