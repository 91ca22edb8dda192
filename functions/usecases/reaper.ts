// The reaper: finds nodes that stopped heartbeating and live jobs past a deadline, and ends what they
// hold so the work moves elsewhere. Each action is a conditional write, so a reaper running twice at
// once, or racing an agent that comes back, cannot double anything.
import { DomainError, ignoreDomainError } from '../domain/errors';
import { jobDeadline } from '../domain/job/deadlines';
import { expire, forceCancel, lose, timeOut } from '../domain/job/transitions';
import { heartbeatDeadline } from '../domain/node/liveness';
import { isWatched } from '../domain/node/status';
import { beginRemoval, holdMs, isPending } from '../domain/node/removal';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { finishRemoval, startRemoval } from './node-removal';
import { tryPlace } from './placement';
import { renewReplica } from './renewal';
import { logger } from '../observability/logger';

export interface ReapResult {
  nodesOffline: number;
  attemptsLost: number;
  /** removals left pending by an earlier call and finished now */
  removalsFinished: number;
  jobsEnded: number;
  /** service replicas' billing periods renewed (a replica whose owner could not cover one counts as ended) */
  renewals?: number;
}

export async function reap(d: Deps): Promise<ReapResult> {
  const now = d.now();
  const result: ReapResult = { nodesOffline: 0, attemptsLost: 0, removalsFinished: 0, jobsEnded: 0 };
  for (const n of await d.nodes.overdue(now)) {
    try {
      // a removal a crash or timeout cut short, or a deregistered node's stake whose hold has passed
      if (isPending(n)) {
        const f = await finishRemoval(d, n.id);
        result.attemptsLost += f.attemptsLost;
        if (!f.pending.length) result.removalsFinished++;
      }
      if (!isWatched(n) || (heartbeatDeadline(n) ?? Infinity) >= now) continue;
      // the write-off is a removal: the status and the steps left (stop, lose the attempts) in one write
      const node = await startRemoval(d, n.id, (x) =>
        isWatched(x) && (heartbeatDeadline(x) ?? Infinity) < now
          ? beginRemoval(x, 'lost', now, { statusReason: 'missed 3 heartbeats', holdMs: holdMs(d.settings.ledger) })
          : x,
      ).catch(ignoreDomainError);
      if (node?.status !== 'OFFLINE' || node.removal?.at !== now) continue;
      result.nodesOffline++;
      result.attemptsLost += (await finishRemoval(d, node.id)).attemptsLost;
    } catch (e) {
      // one node's trouble must not stop the reaper for the others; its removal stays pending
      logger.warn('reaper: node removal failed; retried next tick', { nodeId: n.id, error: e });
    }
  }
  for (const stale of await d.jobs.overdue(now)) {
    const job = await d.jobs.get(stale.id);
    const deadline = job && jobDeadline(job, d.settings.deadlines);
    if (!job || !deadline || deadline.at >= now) continue;
    if (deadline.kind === 'renew') {
      try {
        const r = await renewReplica(d, job, now);
        if ('renewed' in r) result.renewals = (result.renewals ?? 0) + 1;
        else result.jobsEnded++;
      } catch (e) {
        // already renewed or ended by another writer: nothing to do; anything else waits for the next pass
        if (!(e instanceof DomainError)) logger.warn('reaper: renewal failed; retried next pass', { jobId: job.id, error: e });
      }
      continue;
    }
    try {
      const after = await applyTransition(d, job, (j) =>
        deadline.kind === 'queueTtl'
          ? expire(j, now)
          : deadline.kind === 'dispatch'
            ? lose(j, j.liveAttemptId!, 'DISPATCH_TIMEOUT', now)
            : deadline.kind === 'cancel'
              ? forceCancel(j, now)
              : timeOut(j, now),
      );
      result.jobsEnded++;
      if (deadline.kind === 'dispatch') d.metrics.ifLost(after, job.liveAttemptId!);
      if (after.status === 'QUEUED') await tryPlace(d, after);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
    }
  }
  return result;
}
