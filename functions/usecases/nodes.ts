// Provider-facing node use cases: register, read, change, deregister. A provider sees only its own
// nodes; another provider's node is "not found".
import type { RegisterNode } from '../domain/agent-protocol';
import { isRegistrationKeyId } from '../domain/api-key';
import { conflict, DomainError, notFound } from '../domain/errors';
import type { Caller, Node } from '../domain/model';
import { nextNodeStatus, type NodeEvent } from '../domain/node/status';
import { isConditionFailure } from '../store/conditions';
import type { NodeItem } from '../store/nodes-store';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { lose } from '../domain/job/transitions';
import { liveAttemptOn } from '../domain/job/gang';
import { sweep, tryPlace } from './placement';
import { observeNode } from './checker-reputation';
import { ensureStakeLock, STAKE_WAIT } from './ledger';
import { deregister } from './node-removal';
import { recordLostAttempts } from './metrics';

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
  const { apiKey } = await d.keys.issue({ accountId: caller.accountId, role: 'node', nodeId: node.id, now });
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

/** Saves a change to a node under its version, re-reading on a race (capacity moves often). */
export async function updateNode(d: Deps, id: string, change: (n: NodeItem) => Node): Promise<NodeItem> {
  for (let tries = 0; ; tries++) {
    const node = await d.nodes.get(id);
    if (!node) throw notFound('node');
    try {
      return await d.nodes.save(node, change(node));
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      if (tries >= 8) throw conflict('node changed concurrently; try again');
    }
  }
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
  return updateNode(d, id, (n) => {
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
}

/**
 * Deregisters a node (functions/usecases/node-removal.ts): it takes no work, is told to stop, its live
 * attempts are re-placed, its queue is removed; its stake lock stays slashable for the unstaking cooldown.
 * Idempotent: a repeat finishes whatever an earlier call left undone and answers the node.
 */
export async function deregisterNode(d: Deps, caller: Caller, id: string): Promise<NodeItem> {
  const own = await getOwnNode(d, caller, id);
  const { node } = await deregister(d, own);
  return node ?? own;
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
  recordLostAttempts(reason, moved);
  return moved;
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
  if (activated) await sweep(d, { maxJobs: 8 });
  return activated;
}

export function nodeView(n: NodeItem, caller: Caller) {
  const { version: _v, ...rest } = n;
  // the queue URL is the node's own business
  return caller.role === 'admin' || caller.accountId === n.providerId ? rest : { ...rest, queueUrl: undefined };
}
