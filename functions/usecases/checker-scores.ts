// What providers and admins see of the checker: a node's results over time with uptime and round-trip
// figures, its reputation and its epoch settlements; and the admin's release of a quarantined node.
import * as z from 'zod';
import { rttPercentiles, uptime } from '../domain/checker/stats';
import type { Caller } from '../domain/model';
import type { Deps } from './deps';
import { assertAdmin } from './accounts';
import { getOwnNode, nodeView, withStatus } from './nodes';
import { updateNode } from './node-writes';

export const ScoresQuerySchema = z.strictObject({
  /** results after this epoch ms; default: the last 24 hours */
  since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});
export type ScoresQuery = z.infer<typeof ScoresQuerySchema>;

const HOUR = 3_600_000;

export async function nodeScores(d: Deps, caller: Caller, id: string, q: ScoresQuery) {
  const node = await getOwnNode(d, caller, id);
  const now = d.now();
  const [items, window, rewards] = await Promise.all([
    d.scores.list(id, q.since ?? now - 24 * HOUR, q.limit),
    d.scores.window(id, now - 7 * 24 * HOUR),
    d.scores.rewards(id, 48),
  ]);
  const unposted = rewards.filter((r) => !r.posted);
  return {
    nodeId: node.id,
    status: node.status,
    statusReason: node.statusReason ?? null,
    reputation: node.reputation,
    probe: node.probe ?? null,
    items: items.map(({ nodeId: _n, expiresAt: _e, ...rest }) => rest),
    uptime: { h1: uptime(window, now - HOUR), h24: uptime(window, now - 24 * HOUR), d7: uptime(window, now - 7 * 24 * HOUR) },
    rttMs: rttPercentiles(window, now - 24 * HOUR),
    // settlements waiting for the ledger (micro-credits), newest first; the ledger posts each under idempotencyKey
    rewards,
    pending: { reward: unposted.reduce((s, r) => s + r.reward, 0), penalty: unposted.reduce((s, r) => s + r.penalty, 0) },
  };
}

/** QUARANTINED → OFFLINE: the agent's next session brings it back ONLINE. Idempotent for other states. */
export async function releaseNode(d: Deps, caller: Caller, id: string) {
  assertAdmin(caller, 'releases a quarantined node');
  await getOwnNode(d, caller, id);
  const node = await updateNode(d, id, (n) =>
    n.status !== 'QUARANTINED'
      ? n
      : { ...withStatus(n, 'release', 'released by an admin'), ...(n.probe ? { probe: { ...n.probe, consecutiveFailures: 0, consecutiveSuccesses: 0 } } : {}) },
  );
  return nodeView(node, caller);
}
