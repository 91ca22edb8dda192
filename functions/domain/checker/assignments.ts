// Epoch assignments of the open checker network (docs/checkers.md, The checker network). Each epoch every
// node is checked by k licensed checkers chosen by rendezvous hashing under the epoch's seed: an HMAC of
// the epoch number under a key only the control plane holds, so no provider can know in advance which
// checkers will look at its nodes, and the choice rotates from one epoch to the next. A checker is never
// assigned a node of an account that holds or operates its license. Pure: node:crypto computes, nothing
// is read.
import { createHash, createHmac } from 'node:crypto';

/** One checker as the epoch's roster froze it. */
export interface RosterChecker {
  licenseId: string;
  /** the license's holder at the epoch's start */
  ownerId: string;
  /** who runs it for the holder (delegation); absent: the owner runs it */
  operatorId?: string;
  /** the operator's share of the license's rewards, basis points */
  rewardShareBps: number;
  /** base64 SPKI Ed25519 key the checker signs reports with */
  publicKey: string;
}

export interface AssignableNode {
  id: string;
  providerId: string;
}

/**
 * The epoch's seed: HMAC-SHA-256 of the epoch number under the control plane's secret key material. The
 * label keeps it apart from any other use of the same key.
 */
export function epochSeed(secret: Buffer | string, epoch: number): Buffer {
  return createHmac('sha256', secret).update(`gpupool-checker-assignment-v1\n${epoch}`).digest();
}

/** The accounts a checker acts for: neither may be assigned its own nodes. */
export const accountsOf = (c: Pick<RosterChecker, 'ownerId' | 'operatorId'>): string[] => (c.operatorId ? [c.ownerId, c.operatorId] : [c.ownerId]);

/** Whether `c` may check a node of `providerId` at all (not its own, not one it operates for). */
export const eligible = (c: Pick<RosterChecker, 'ownerId' | 'operatorId'>, providerId: string): boolean => !accountsOf(c).includes(providerId);

const rank = (seed: Buffer, nodeId: string, licenseId: string) => createHash('sha256').update(seed).update(`\n${nodeId}\n${licenseId}`).digest('hex');

/**
 * The k checkers of `node` this epoch: the eligible ones with the highest rendezvous rank under the seed.
 * A checker that joins or leaves the roster moves only the nodes it ranks top-k for.
 */
export function assignedCheckers<C extends RosterChecker>(seed: Buffer, roster: readonly C[], node: AssignableNode, k: number): C[] {
  return roster
    .filter((c) => eligible(c, node.providerId))
    .map((c) => ({ c, r: rank(seed, node.id, c.licenseId) }))
    .sort((a, b) => (a.r < b.r ? 1 : a.r > b.r ? -1 : 0))
    .slice(0, Math.max(0, k))
    .map((x) => x.c);
}

/** Whether `licenseId` is one of `node`'s checkers this epoch. */
export const isAssigned = (seed: Buffer, roster: readonly RosterChecker[], node: AssignableNode, k: number, licenseId: string): boolean =>
  assignedCheckers(seed, roster, node, k).some((c) => c.licenseId === licenseId);

/** The nodes `licenseId` must check this epoch. */
export function assignmentsOf<N extends AssignableNode>(seed: Buffer, roster: readonly RosterChecker[], nodes: readonly N[], k: number, licenseId: string): N[] {
  return nodes.filter((n) => isAssigned(seed, roster, n, k, licenseId));
}
