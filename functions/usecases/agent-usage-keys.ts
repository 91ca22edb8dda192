// A usage key of its own for each node its provider registers (AWS): API Gateway then throttles every
// node's agent traffic on its own, so neither another node nor any account can crowd out its heartbeats
// (docs/api.md, Usage plans). Best effort by design: registration never fails for it, and a node whose key
// could not be made (the region's 10,000-key limit, a failed call) is metered by a shared agent key.
import { isRegistrationKeyId } from '../domain/api-key';
import type { Caller } from '../domain/model';
import type { Deps } from './deps';
import { logger } from '../observability/logger';

export type { AgentUsageKeysPort } from '../domain/agent-usage-keys-port';

/**
 * After a registration: the node's own usage key, then its node key marked to use it. The mark comes only
 * after the key is in the plan, since API Gateway answers 403 to a usageIdentifierKey it does not know.
 * Registration tokens (burst instances, the operator's own) keep the shared keys.
 */
export async function giveOwnUsageKey(d: Deps, caller: Caller, nodeId: string, nodeKeyId: string): Promise<boolean> {
  if (!d.agentUsageKeys || caller.role !== 'provider' || isRegistrationKeyId(caller.keyId)) return false;
  try {
    await d.agentUsageKeys.ensure(nodeId);
    await d.keys.markOwnUsageKey(nodeKeyId);
    return true;
  } catch (err) {
    logger.warn('node keeps a shared usage key', { nodeId, err });
    return false;
  }
}

/** After a deregistration: the node's usage key goes (its node key answers 409 from now on anyway). */
export async function dropOwnUsageKey(d: Deps, nodeId: string): Promise<void> {
  await d.agentUsageKeys?.remove(nodeId).catch((err: Error) => logger.warn('node usage key not removed', { nodeId, err }));
}
