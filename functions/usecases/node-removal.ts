// Taking a node out of service as one operation that completes exactly once, even when cut at any step
// (docs/failure-handling.md, "Removing a node"). The status change writes the steps left to do on the
// node item in the same conditional write (functions/domain/node/removal.ts); finishRemoval runs them in
// order, each idempotent, striking each off once it is done. The caller that made the change runs it at
// once; the reaper tick finishes whatever a crash, a timeout or a failed call left, and releases the stake
// of a deregistered node once its hold has passed.
import { beginRemoval, holdMs, stepDone, stillRemoved, type Removal, type RemovalStep } from '../domain/node/removal';
import { liveAttemptOn } from '../domain/job/gang';
import type { Node } from '../domain/model';
import type { NodeItem } from '../store/nodes-store';
import { isConditionFailure } from '../store/conditions';
import type { Deps } from './deps';
import { isLostRace, LostRaceError, retrying } from './retry';
import { releaseStakeLock, slashNode } from './ledger';
import { loseLiveAttempts, updateNode } from './node-writes';
import { tellNodeToStop } from './node-stop';

const LOSS_REASON = { deregistered: 'NODE_DEREGISTERED', quarantined: 'NODE_QUARANTINED', lost: 'NODE_LOST' } as const;

export interface FinishResult {
  node?: NodeItem;
  /** attempts this call ended */
  attemptsLost: number;
  /** steps still pending (a step that could not complete now, or the stake release before its hold ends) */
  pending: RemovalStep[];
}

/** The removal's status change: `change` must return the node with its new status and removal record. */
export async function startRemoval(d: Deps, id: string, change: (n: NodeItem) => Node): Promise<NodeItem> {
  const node = await updateNode(d, id, change);
  await d.faults?.('removal:after:status', id);
  return node;
}

/**
 * Deregisters a node: it takes no work, is told to stop, its live attempts are re-placed, its queue is
 * removed, and its stake lock is released once its hold has passed. A repeat finishes what is left.
 */
export async function deregister(d: Deps, node: NodeItem): Promise<FinishResult> {
  if (node.status !== 'DEREGISTERED') {
    const at = d.now();
    await startRemoval(d, node.id, (n) =>
      n.status === 'DEREGISTERED' ? n : beginRemoval(n, 'deregistered', at, { statusReason: 'deregistered', holdMs: holdMs(d.settings.ledger) }),
    );
  }
  return finishRemoval(d, node.id);
}

/** Runs the node's pending removal steps in order; safe to call any number of times, concurrently too. */
export async function finishRemoval(d: Deps, id: string): Promise<FinishResult> {
  let attemptsLost = 0;
  for (let guard = 0; guard < 16; guard++) {
    const node = await d.nodes.get(id);
    const r = node?.removal;
    if (!node || !r?.pending.length) return { node, attemptsLost, pending: [] };
    const step = r.pending[0];
    if (step === 'releaseStake' && d.now() < (r.holdUntil ?? 0)) return { node, attemptsLost, pending: r.pending };
    const done = await runStep(d, node, r, step);
    attemptsLost += done.lost;
    if (!done.complete) return { node, attemptsLost, pending: r.pending };
    await d.faults?.(`removal:after:${step}`, id);
    await strikeOff(d, id, r.at, step);
  }
  const node = await d.nodes.get(id);
  return { node, attemptsLost, pending: node?.removal?.pending ?? [] };
}

async function runStep(d: Deps, node: NodeItem, r: Removal, step: RemovalStep): Promise<{ complete: boolean; lost: number }> {
  const ok = { complete: true, lost: 0 };
  switch (step) {
    case 'stopNode':
      // only while the node is still out: a lost node that came back keeps its work
      if (stillRemoved(node) && node.queueUrl) await tellNodeToStop(d, node, LOSS_REASON[r.reason]);
      return ok;
    case 'loseAttempts': {
      if (!stillRemoved(node)) return ok;
      // fenced on the version just read: the steps' own progress writes leave it alone
      const lost = await loseLiveAttempts(d, node, LOSS_REASON[r.reason]);
      // an attempt whose end raced something else stays live: the step is not done until none is left
      for (const j of await d.jobs.liveOnNode(node.id)) {
        const job = await d.jobs.get(j.id);
        if (job && liveAttemptOn(job, node.id)) return { complete: false, lost };
      }
      return { complete: true, lost };
    }
    case 'slash':
      if (r.slashKey) await slash(d, node, r);
      return ok;
    case 'removeQueue':
      if (node.queueUrl) await d.queues.remove(node.queueUrl).catch((e) => ignoreMissingQueue(e));
      return ok;
    case 'releaseStake':
      // under the node's version, and only while the release is the next step: evidence accepted in the
      // meantime puts a slash before it
      await releaseStakeLock(d, node.id, (n) => n.removal?.pending[0] === 'releaseStake' && d.now() >= (n.removal.holdUntil ?? 0));
      return ok;
  }
}

/** Slashes once by the removal's key and records it with the node's rewards (once: a redo finds it). */
async function slash(d: Deps, node: NodeItem, r: Removal): Promise<void> {
  const key = r.slashKey!;
  const result = await slashNode(d, node.id, key, r.evidence ?? '');
  const recorded = (await d.scores.rewards(node.id, 100)).some((x) => x.idempotencyKey === key);
  if (recorded) return;
  const at = r.evidenceAt ?? r.at;
  await d.scores.putReward({
    nodeId: node.id,
    providerId: node.providerId,
    kind: 'slash',
    // odd ms: never the (even) start of an epoch, whose settlement shares this partition
    at: at % 2 === 1 ? at : at + 1,
    reward: 0,
    penalty: 0,
    slashFraction: d.settings.ledger.slashBps / 10_000,
    ...(result ? { slashed: result.slashed, refunded: result.refunded } : {}),
    evidence: (r.evidence ?? '').slice(0, 200),
    idempotencyKey: key,
    posted: result !== undefined,
  });
}

function ignoreMissingQueue(e: unknown): void {
  const name = (e as Error)?.name ?? '';
  if (name.includes('NonExistentQueue') || name.includes('QueueDoesNotExist')) return;
  throw e;
}

/** Strikes `step` off the removal started at `at` (if it is still that removal and the step still pending). */
async function strikeOff(d: Deps, id: string, at: number, step: RemovalStep): Promise<void> {
  await retrying(
    async () => {
      const node = await d.nodes.get(id);
      const r = node?.removal;
      if (!node || !r || r.at !== at || !r.pending.includes(step)) return;
      if (!(await d.nodes.setRemoval(node, stepDone(r, step)))) throw new LostRaceError(`node ${id} changed concurrently`);
    },
    // still moving after 8 tries: left pending; the step is idempotent, the next finisher redoes it
    { retries: 7, on: (e) => isLostRace(e) || isConditionFailure(e), exhausted: () => undefined },
  );
}
