// Which usage key meters a caller on AWS. API Gateway throttles per usage key and an account and region
// holds at most 10,000 of them, so callers share fixed sets of keys: a stable hash picks one. There are two
// tiers, each its own usage plan with its own keys (docs/api.md):
// - the account tier: consumer, provider and admin keys, hashed by account id; a noisy account slows only
//   the accounts of its bucket, and the number of API Gateway keys never grows with the tenants;
// - the agent tier: node keys. A node registered by its provider gets a usage key of its own (created at
//   registration, removed at deregistration: functions/usecases/agent-usage-keys.ts), so no other node and
//   no account's traffic can throttle its heartbeats; where that key could not be made (the region's
//   10,000-key limit, a failed call) the node falls back to a shared key, hashed by node id.
import { createHash } from 'node:crypto';
import type { Caller } from './model';

export type UsageTier = 'account' | 'agent';

export function usageBucketOf(id: string, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1) throw new Error(`usage buckets must be a positive integer, got ${buckets}`);
  return createHash('sha256').update(id).digest().readUInt32BE(0) % buckets;
}

/** The usage key value of a bucket: the stack's base value, the tier (agent keys only) and the bucket number. */
export const usageKeyValue = (base: string, bucket: number, tier: UsageTier = 'account') =>
  tier === 'agent' ? `${base}-agent-${bucket}` : `${base}-${bucket}`;

/** The usage key value of a node's own key in the agent tier. */
export const nodeUsageKeyValue = (base: string, nodeId: string) => `${base}-node-${nodeId}`;

/** Node keys are agents; every other key is a person's or a program's acting for an account. */
export const usageTierOf = (role: Caller['role']): UsageTier => (role === 'node' ? 'agent' : 'account');

/**
 * What a caller is metered by within its tier: a node (its key speaks for exactly one node) or an account
 * (all its keys together). The local gateway meters by this id itself; AWS by the bucket it hashes into.
 */
export function usageSubjectOf(caller: Pick<Caller, 'role' | 'accountId' | 'keyId' | 'nodeId'>): { tier: UsageTier; id: string } {
  const tier = usageTierOf(caller.role);
  // a node key always names its node; the key id is the same one-node identity should one ever lack it
  return { tier, id: tier === 'agent' ? (caller.nodeId ?? caller.keyId) : caller.accountId };
}

export interface UsageBuckets {
  /** usage keys of the account tier */
  account: number;
  /** usage keys of the agent tier */
  agent: number;
}

/** The usage key value that meters `caller` on AWS: its tier, and the bucket its subject hashes into. */
export function usageKeyOf(caller: Pick<Caller, 'role' | 'accountId' | 'keyId' | 'nodeId' | 'ownUsageKey'>, base: string, buckets: UsageBuckets): string {
  if (caller.role === 'node' && caller.ownUsageKey && caller.nodeId) return nodeUsageKeyValue(base, caller.nodeId);
  const { tier, id } = usageSubjectOf(caller);
  return usageKeyValue(base, usageBucketOf(id, buckets[tier]), tier);
}
