// Taking a node out of service, as one resumable operation (docs/failure-handling.md, "Removing a node").
//
// The status change that takes a node out (deregistered, quarantined, written off as lost) writes, in the
// same conditional write, a `removal` record listing the steps still to do. Each step is idempotent; a
// finisher (the request that started it, then the reaper tick for anything left) runs the pending steps
// in order and strikes each one off after it is done. Cut anywhere, the record says what is left, and
// doing a step twice changes nothing. Pure: no I/O.
//
// Stake: the lock of a deregistered node is not freed at once. It stays locked, and slashable, until the
// unstaking cooldown has passed after the node's last attempt ended and after its last pending verdict
// (a canary is judged or dropped within VERDICT_GRACE_MS): `holdUntil`. Evidence that arrives before then
// still slashes it.
import { conflict } from '../errors';
import type { Node, NodeStatus } from '../model';
import { REMOVAL_STEPS, type Removal, type RemovalReason, type RemovalStep } from './removal-record';
import { nextNodeStatus } from './status';

export { REMOVAL_STEPS, type Removal, type RemovalReason, type RemovalStep } from './removal-record';

/** the longest a verdict on a node's work may stay pending (a canary is judged or dropped within an hour) */
export const VERDICT_GRACE_MS = 60 * 60_000;

/** How long a deregistered node's stake stays held: the unstaking cooldown after its last pending verdict. */
export const holdMs = (l: { unstakeCooldownMs: number; verdictGraceMs?: number }) => l.unstakeCooldownMs + (l.verdictGraceMs ?? VERDICT_GRACE_MS);

const STEPS_OF: Record<RemovalReason, readonly RemovalStep[]> = {
  deregistered: ['loseAttempts', 'stopNode', 'removeQueue', 'releaseStake'],
  quarantined: ['loseAttempts', 'stopNode', 'slash'],
  lost: ['loseAttempts', 'stopNode'],
};

/** The status a removal takes a node to; its status-bound steps (stop, lose) only apply while it holds. */
export const STATUS_OF: Record<RemovalReason, NodeStatus> = { deregistered: 'DEREGISTERED', quarantined: 'QUARANTINED', lost: 'OFFLINE' };

const ordered = (steps: Iterable<RemovalStep>) => REMOVAL_STEPS.filter((s) => new Set(steps).has(s));

/** A node still owes these steps. */
export const isPending = (n: Pick<Node, 'removal'>): boolean => (n.removal?.pending.length ?? 0) > 0;

/** When the reaper should run the next pending step (ms), or undefined when nothing is left. */
export function removalDueAt(r: Removal | undefined): number | undefined {
  if (!r?.pending.length) return undefined;
  return r.pending[0] === 'releaseStake' ? (r.holdUntil ?? r.at) : r.at;
}

/** The node still in the status its removal took it to (a lost node that came back is not). */
export const stillRemoved = (n: Pick<Node, 'status' | 'removal'>): boolean => !!n.removal && n.status === STATUS_OF[n.removal.reason];

/**
 * The node as the status change writes it: the new status and what is left to do. Steps of an earlier
 * removal not yet done are kept (a quarantine's slash survives a deregistration that follows it).
 */
export function beginRemoval(
  n: Node,
  reason: RemovalReason,
  at: number,
  o: { statusReason: string; evidence?: string; slashKey?: string; holdMs: number },
): Node {
  const event = reason === 'deregistered' ? 'deregister' : reason === 'quarantined' ? 'quarantine' : 'missedHeartbeats';
  const status = nextNodeStatus(n.status, event);
  // an earlier removal still in force (a quarantined node being deregistered) answers for its evidence;
  // one the node has left (released, back online) carries only the steps it still owes
  const prev = n.removal && (stillRemoved(n) || n.removal.pending.length) ? n.removal : undefined;
  const current = !!prev && stillRemoved(n);
  // status-bound steps of the earlier removal are redone under the new status; the rest carry over
  const carried = prev ? prev.pending.filter((s) => s === 'slash' || s === 'removeQueue' || s === 'releaseStake') : [];
  const removal: Removal = {
    reason,
    at,
    pending: ordered([...carried, ...STEPS_OF[reason]]),
    ...(prev?.slashKey && (current || prev.pending.includes('slash')) ? { slashKey: prev.slashKey, evidence: prev.evidence, evidenceAt: prev.evidenceAt } : {}),
    ...(o.slashKey ? { slashKey: o.slashKey, evidence: o.evidence, evidenceAt: at } : {}),
    ...(reason === 'deregistered' ? { holdUntil: at + o.holdMs } : prev?.holdUntil ? { holdUntil: prev.holdUntil } : {}),
  };
  return { ...n, status, statusReason: o.statusReason, removal };
}

/** The slash key of the evidence `at` against `nodeId` (the reward record and the ledger posting share it). */
export const slashKeyOf = (nodeId: string, at: number) => `quarantine/${nodeId}/${at}/slash`;

/**
 * Evidence against a node: a watched or offline node is quarantined (and slashed); a deregistered one
 * keeps its status and is slashed while its stake is still held. Throws a conflict when the evidence
 * changes nothing (already quarantined, already slashed since it left, or past its hold).
 */
export function acceptEvidence(n: Node, evidence: string, at: number, holdMs: number): Node {
  const slashKey = slashKeyOf(n.id, at);
  if (n.status === 'QUARANTINED') throw conflict('node is QUARANTINED');
  if (n.status !== 'DEREGISTERED') {
    return { ...beginRemoval(n, 'quarantined', at, { statusReason: `checker: ${evidence}`, evidence, slashKey, holdMs }), reputation: 0 };
  }
  const r = n.removal;
  if (!r || r.slashKey) throw conflict('node is DEREGISTERED and its stake already answered for it');
  if (at >= (r.holdUntil ?? 0)) throw conflict('node is DEREGISTERED and its stake is no longer held');
  return {
    ...n,
    reputation: 0,
    statusReason: `deregistered; checker: ${evidence}`,
    removal: { ...r, slashKey, evidence, evidenceAt: at, pending: ordered([...r.pending, 'slash']) },
  };
}

/** The removal with `step` done. */
export const stepDone = (r: Removal, step: RemovalStep): Removal => ({ ...r, pending: r.pending.filter((s) => s !== step) });
