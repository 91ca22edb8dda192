// Telling a node taken out of service to stop what it runs, at once. The control plane re-places the
// node's jobs within milliseconds of writing it off; without a word the old copies would run on until the
// node's lease ran out (up to 4 heartbeat periods), next to their replacements. Best effort by design:
// a node that misses the message (queue gone, agent partitioned) gets a 409 on its next heartbeat or
// session and kills its attempts then, and a node that hears nothing at all stops when its lease ends.
import type { StopMessage } from '../domain/agent-protocol';
import type { Deps } from './deps';
import { logger } from '../observability/logger';

/**
 * Sends a `stop` control message on the node's queue: the agent kills the named attempts (all it runs
 * when none are named) without a grace period and reports nothing for them. Never throws: a failed send
 * must not hold up the removal that re-places the node's jobs. Never re-creates a queue that is gone.
 * Returns whether the message was sent.
 */
export async function tellNodeToStop(d: Deps, node: { id: string; queueUrl?: string }, reason: string, attemptIds?: string[]): Promise<boolean> {
  if (!node.queueUrl) return false;
  const message: StopMessage = { type: 'stop', reason: reason.slice(0, 256), ...(attemptIds?.length ? { attemptIds: attemptIds.slice(0, 256) } : {}) };
  try {
    await d.queues.send(node.queueUrl, message);
    return true;
  } catch (err) {
    logger.warn('stop message not sent; the node learns it from a 409', { nodeId: node.id, error: err });
    return false;
  }
}
