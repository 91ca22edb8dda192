// Writes on a node that both the node routes (nodes.ts) and its removal (node-removal.ts) make, in their
// own file so that neither of those imports the other for them.
import { DomainError, notFound } from '../domain/errors';
import { lose } from '../domain/job/transitions';
import { liveAttemptOn } from '../domain/job/gang';
import type { Node } from '../domain/model';
import { isConditionFailure } from '../store/conditions';
import type { NodeItem } from '../store/nodes-store';
import { observeNode } from './checker-reputation';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { tryPlace } from './placement';
import { LostRaceError, retrying } from './retry';

/** Saves a change to a node under its version, re-reading on a race (capacity moves often). */
export async function updateNode(d: Deps, id: string, change: (n: NodeItem) => Node): Promise<NodeItem> {
  return retrying(
    async () => {
      const node = await d.nodes.get(id);
      if (!node) throw notFound('node');
      return d.nodes.save(node, change(node));
    },
    {
      // 9 tries in all, one more than node-removal's strikeOff on the same version: kept as it was
      retries: 8,
      on: isConditionFailure,
      exhausted: () => {
        throw new LostRaceError('node changed concurrently; try again');
      },
    },
  );
}

/** Ends every live attempt on a node that is gone and re-places the jobs at once. */
export async function loseLiveAttempts(d: Deps, node: Pick<NodeItem, 'id' | 'version'>, reason: 'NODE_LOST' | 'NODE_DEREGISTERED' | 'NODE_QUARANTINED'): Promise<number> {
  let moved = 0;
  for (const stale of await d.jobs.liveOnNode(node.id)) {
    const job = await d.jobs.get(stale.id);
    // the attempt on this node: the job's one live attempt, or a gang's rank here (losing it ends the gang)
    const mine = job && liveAttemptOn(job, node.id);
    if (!job || !mine) continue;
    try {
      // fenced on the node's version: if it opened a new session meanwhile, its work stays with it
      const after = await applyTransition(d, job, (j) => lose(j, mine.id, reason, d.now()), { fence: { nodeId: node.id, version: node.version } });
      moved++;
      if (after.status === 'QUEUED') await tryPlace(d, after);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
    }
  }
  // work the node lost counts against its reputation (docs/checkers.md); the version is left alone
  if (moved > 0 && reason === 'NODE_LOST') await observeNode(d, node.id, 'jobLost', moved);
  d.metrics.lostAttempts(reason, moved);
  return moved;
}
