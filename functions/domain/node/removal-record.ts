// The removal record a node carries while it is taken out of service (removal.ts runs it). Apart so that
// the node model (model.ts) can hold one without importing the rules that import the model.

export type RemovalReason = 'deregistered' | 'quarantined' | 'lost';

/**
 * The steps in the order they run:
 * - loseAttempts: every live attempt on the node ends and its job is re-placed;
 * - stopNode: a control message tells the node to kill its attempts at once (its queue must still exist).
 *   After loseAttempts, so that whatever the node reports about the attempts it kills finds them ended
 *   already (a 409) and cannot fail the job instead of re-placing it;
 * - slash: the stake that backed the node is slashed for the evidence (once, by `slashKey`);
 * - removeQueue: the node's queue is deleted (deregistration only);
 * - releaseStake: the lock goes back to free stake, due at `holdUntil` (deregistration only).
 */
export const REMOVAL_STEPS = ['loseAttempts', 'stopNode', 'slash', 'removeQueue', 'releaseStake'] as const;
export type RemovalStep = (typeof REMOVAL_STEPS)[number];

export interface Removal {
  reason: RemovalReason;
  /** when the status change was written (ms): identifies this removal */
  at: number;
  /** steps still to do, in REMOVAL_STEPS order */
  pending: RemovalStep[];
  /** the idempotency key of the slash (present once evidence was accepted: at most one slash per removal) */
  slashKey?: string;
  evidence?: string;
  /** when the evidence was accepted (ms): the slash record's time */
  evidenceAt?: number;
  /** deregistration: the stake lock stays slashable until then (ms) */
  holdUntil?: number;
}
