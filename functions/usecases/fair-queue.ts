// What the sweep reads: the global head of the queue (the sharded `queued` index, by priority then age)
// and the head of each account's own queue (the `queuedByAccount` index, for accounts the markers list),
// ordered by fairOrder. The global read alone would let one account's backlog fill every shard's page;
// the per-account reads alone would depend on markers, which are only hints.
import { fairSelect } from '../domain/job/fair-share';
import type { Job } from '../domain/model';
import type { Deps } from './deps';

/** At most this many accounts' queues are read per sweep; more are taken in turns (a rotating cursor). */
export const ACCOUNTS_PER_SWEEP = 32;
/** Markers listed per sweep, from the cursor on. */
const MARKERS_PER_SWEEP = 256;

/** Where the last sweep of this process stopped in the account list (per warm Lambda, or the local stack). */
let cursor = '';

/**
 * `full`: the scheduled sweep also reads the global head (8 shard queries) and keeps the markers (their
 * two-step removal). The bounded sweep after each finish reads only the markers and the queues they
 * name: one query when nothing waits, instead of nine — the global read each period catches a job
 * whose marker is missing, so nothing waits longer than one sweep period for that.
 */
export async function readQueue(d: Deps, maxJobs: number, full = true): Promise<{ jobs: Job[]; read: number }> {
  const accountsRead = Math.min(ACCOUNTS_PER_SWEEP, maxJobs);
  const [global, markers] = await Promise.all([full ? d.jobs.queued(Math.max(1, Math.ceil(maxJobs / 4))) : [], d.jobs.accounts.list(MARKERS_PER_SWEEP, cursor)]);
  const accounts = markers.slice(0, accountsRead);
  cursor = accounts.length < markers.length ? accounts[accounts.length - 1].accountId : '';
  // each account read deep enough to fill the sweep on its own if it is the only one waiting
  const perAccount = Math.max(1, Math.min(25, Math.ceil(maxJobs / Math.max(1, accounts.length))));
  const heads = await Promise.all(accounts.map((a) => d.jobs.queuedOf(a.accountId, perAccount)));
  const now = d.now();
  if (full) await Promise.all(accounts.map((a, i) => d.jobs.accounts.observed(a, heads[i].length === 0, now)));
  const all = [...global, ...heads.flat()];
  // every account read gets its turns in the sweep, whatever the priorities (fairSelect)
  return { jobs: fairSelect(all, maxJobs), read: new Set(all.map((j) => j.id)).size };
}
