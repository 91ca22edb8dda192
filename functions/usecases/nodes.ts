// Provider-facing node use cases: register, read, change, deregister. A provider sees only its own
// nodes; another provider's node is "not found".
import type { RegisterNode } from '../domain/agent-protocol';
import { isRegistrationKeyId } from '../domain/api-key';
import { dropOwnUsageKey, giveOwnUsageKey } from './agent-usage-keys';
import { DomainError, notFound } from '../domain/errors';
import type { Caller, Node } from '../domain/model';
import { nextNodeStatus, type NodeEvent } from '../domain/node/status';
import type { NodeItem } from '../store/nodes-store';
import type { Deps } from './deps';
import { wakePlacement } from './placement';
import { ensureStakeLock, STAKE_WAIT } from './ledger';
import { deregister } from './node-removal';
import { updateNode } from './node-writes';
import { reconcileServicesOn } from './service-reconcile';

export async function registerNode(d: Deps, caller: Caller, body: RegisterNode): Promise<{ node: Node; nodeKey: string }> {
  const models = [...new Set(body.gpus.map((g) => g.model))];
  if (models.length > 1) throw new DomainError('validation_failed', 'all GPUs of a node must be one model; register mixed hosts as several nodes');
  const now = d.now();
  // a one-time registration token (burst instances) registers one node: spent here, before the node exists,
  // so any number of racing registrations with it make exactly one node
  if (isRegistrationKeyId(caller.keyId) && !(await d.keys.consumeRegistrationToken(caller.keyId, now))) {
    throw new DomainError('unauthorized', 'registration token already used or expired');
  }
  const node: Node = {
    id: d.newId(),
    providerId: caller.accountId,
    name: body.name,
    status: 'OFFLINE',
    statusReason: 'registered; waiting for the agent session',
    region: body.region,
    location: body.location,
    gpus: body.gpus,
    gpuModel: models[0],
    vramGb: Math.min(...body.gpus.map((g) => g.vramGb)),
    totalGpus: body.gpus.length,
    freeGpus: body.gpus.length,
    pricePerGpuHour: body.pricePerGpuHour,
    labels: body.labels,
    reputation: 0.5,
    probeUrl: body.probeUrl,
    // the checker verifies probe answers with this key; only a session may add one later, never replace it
    publicKey: body.publicKey,
    driverVersion: body.driverVersion,
    cudaVersion: body.cudaVersion,
    ...(body.runtime ? { runtime: body.runtime } : {}),
    createdAt: now,
  };
  await d.nodes.create(node);
  const { record, apiKey } = await d.keys.issue({ accountId: caller.accountId, role: 'node', nodeId: node.id, now });
  await giveOwnUsageKey(d, caller, node.id, record.id);
  return { node, nodeKey: apiKey };
}

/** GET /v1/nodes: a provider's own nodes, newest first; an admin's answer lists every node (a scan). */
export async function listNodes(d: Deps, caller: Caller, limit: number, cursor?: string) {
  return caller.role === 'admin' ? d.nodes.listAll(limit, cursor) : d.nodes.listByProvider(caller.accountId, limit, cursor);
}

export async function getOwnNode(d: Deps, caller: Caller, id: string): Promise<NodeItem> {
  const node = await d.nodes.get(id);
  if (!node || (caller.role !== 'admin' && node.providerId !== caller.accountId)) throw notFound('node');
  return node;
}

export const withStatus = (n: Node, event: NodeEvent, statusReason?: string): Node => ({
  ...n,
  status: nextNodeStatus(n.status, event),
  statusReason,
});

export async function patchNode(d: Deps, caller: Caller, id: string, p: { pricePerGpuHour?: number; labels?: Record<string, string>; drain?: boolean; warmImages?: string[] }) {
  await getOwnNode(d, caller, id);
  // the agent learns the list from its heartbeat answers and pulls what it lacks (agent/runtime/images.ts)
  const warm = p.warmImages && [...new Set(p.warmImages)];
  const node = await updateNode(d, id, (n) => {
    let next: Node = {
      ...n,
      ...(p.pricePerGpuHour === undefined ? {} : { pricePerGpuHour: p.pricePerGpuHour }),
      ...(p.labels ? { labels: p.labels } : {}),
      ...(warm ? { warmImages: warm } : {}),
    };
    if (p.drain === true) next = withStatus(next, 'drain', 'drained by its provider');
    if (p.drain === false) next = withStatus(next, 'undrain');
    return next;
  });
  // a drained node's service replicas are replaced now (surge first: no capacity lost to the maintenance)
  if (p.drain === true) await reconcileServicesOn(d, id);
  return node;
}

/**
 * Deregisters a node (functions/usecases/node-removal.ts): it takes no work, is told to stop, its live
 * attempts are re-placed, its queue is removed; its stake lock stays slashable for the unstaking cooldown.
 * Idempotent: a repeat finishes whatever an earlier call left undone and answers the node.
 */
export async function deregisterNode(d: Deps, caller: Caller, id: string): Promise<NodeItem> {
  const own = await getOwnNode(d, caller, id);
  const { node } = await deregister(d, own);
  await dropOwnUsageKey(d, id);
  return node ?? own;
}

/**
 * After a provider stakes: its nodes that were held back for stake take their lock and come online now,
 * rather than at their agent's next session.
 */
export async function activateStakedNodes(d: Deps, providerId: string): Promise<number> {
  let activated = 0;
  const { items } = await d.nodes.listByProvider(providerId, 100);
  for (const n of items) {
    if (n.status !== 'OFFLINE' || !n.statusReason?.startsWith(STAKE_WAIT)) continue;
    if (await ensureStakeLock(d, n.id)) continue;
    await updateNode(d, n.id, (x) => (x.status === 'OFFLINE' && x.statusReason?.startsWith(STAKE_WAIT) ? { ...withStatus(x, 'session'), lastSeenAt: d.now() } : x));
    activated++;
  }
  if (activated) await wakePlacement(d);
  return activated;
}

export function nodeView(n: NodeItem, caller: Caller) {
  const { version: _v, ...rest } = n;
  // the queue URL is the node's own business
  return caller.role === 'admin' || caller.accountId === n.providerId ? rest : { ...rest, queueUrl: undefined };
}
