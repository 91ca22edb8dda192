// The reaper: finds nodes that stopped heartbeating and live jobs past a deadline, and ends what they
// hold so the work moves elsewhere. Each action is a conditional write, so a reaper running twice at
// once, or racing an agent that comes back, cannot double anything.
import { DomainError, ignoreDomainError } from '../domain/errors';
import { jobDeadline } from '../domain/job/deadlines';
import { expire, forceCancel, lose, timeOut } from '../domain/job/transitions';
import { heartbeatDeadline } from '../domain/node/liveness';
import { isWatched } from '../domain/node/status';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { recordIfLost } from './metrics';
import { loseLiveAttempts, updateNode, withStatus } from './nodes';
import { tryPlace } from './placement';

export interface ReapResult {
  nodesOffline: number;
  attemptsLost: number;
  jobsEnded: number;
}

export async function reap(d: Deps): Promise<ReapResult> {
  const now = d.now();
  const result: ReapResult = { nodesOffline: 0, attemptsLost: 0, jobsEnded: 0 };
  for (const n of await d.nodes.overdue(now)) {
    const node = await updateNode(d, n.id, (x) =>
      isWatched(x) && (heartbeatDeadline(x) ?? Infinity) < now
        ? withStatus(x, 'missedHeartbeats', 'missed 3 heartbeats')
        : x,
    ).catch(ignoreDomainError);
    if (node?.status !== 'OFFLINE') continue;
    result.nodesOffline++;
    result.attemptsLost += await loseLiveAttempts(d, node, 'NODE_LOST');
  }
  for (const stale of await d.jobs.overdue(now)) {
    const job = await d.jobs.get(stale.id);
    const deadline = job && jobDeadline(job, d.settings.deadlines);
    if (!job || !deadline || deadline.at >= now) continue;
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
      if (deadline.kind === 'dispatch') recordIfLost(after, job.liveAttemptId!);
      if (after.status === 'QUEUED') await tryPlace(d, after);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
    }
  }
  return result;
}
