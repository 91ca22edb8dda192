// The sweep's order: higher priority first; within a priority level, accounts take turns (round-robin,
// each account's jobs oldest first), the account whose oldest job waited longest going first. So one
// account's 10,000 queued jobs delay another account's single job by at most one job per account ahead
// of it, never by the whole backlog (docs/scheduling.md). Pure: the sweep reads, this orders.
import type { Job } from '../model';

type Queued = Pick<Job, 'id' | 'accountId' | 'priority' | 'createdAt'>;

const byAge = (a: Queued, b: Queued) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function fairOrder<J extends Queued>(jobs: readonly J[]): J[] {
  const unique = [...new Map(jobs.map((j) => [j.id, j])).values()];
  const levels = [...new Set(unique.map((j) => j.priority))].sort((a, b) => b - a);
  const out: J[] = [];
  for (const level of levels) {
    const byAccount = new Map<string, J[]>();
    for (const j of unique.filter((x) => x.priority === level).sort(byAge)) {
      const list = byAccount.get(j.accountId) ?? [];
      list.push(j);
      byAccount.set(j.accountId, list);
    }
    // lists are oldest first, so the map's insertion order is already "longest waiting account first"
    const queues = [...byAccount.values()];
    for (let turn = 0; queues.some((q) => turn < q.length); turn++) for (const q of queues) if (turn < q.length) out.push(q[turn]);
  }
  return out;
}

/**
 * Which jobs one sweep looks at: at most `max`, accounts taking turns (each its own jobs in queue order:
 * priority, then age), and only then ordered by fairOrder for the claims. Priority decides who gets a
 * free GPU first among the jobs looked at, never whether an account's jobs are looked at: one account's
 * backlog of high-priority jobs that no node can take fills only its own share of the sweep, so another
 * account's placeable job is still tried in the same sweep (issue 14, item 7).
 */
export function fairSelect<J extends Queued>(jobs: readonly J[], max: number): J[] {
  const unique = [...new Map(jobs.map((j) => [j.id, j])).values()];
  const byAccount = new Map<string, J[]>();
  for (const j of unique.sort((a, b) => b.priority - a.priority || byAge(a, b))) {
    const list = byAccount.get(j.accountId) ?? [];
    list.push(j);
    byAccount.set(j.accountId, list);
  }
  const queues = [...byAccount.values()];
  const picked: J[] = [];
  for (let turn = 0; picked.length < max && queues.some((q) => turn < q.length); turn++) {
    for (const q of queues) if (turn < q.length && picked.length < max) picked.push(q[turn]);
  }
  return fairOrder(picked);
}
