// The burst tick (EventBridge schedule on AWS, a timer in the local stack): look after every live burst
// instance (link its node, retire it when idle, deregister the node of one that is gone, charge the
// budget by the hour), then launch for the backlog no node fits. One tick plans at a time (a lease);
// every step that spends money or capacity is conditional, so a second tick running anyway is harmless.
import { ignoreDomainError } from '../domain/errors';
import { hoursDue, nextStep, REASON_BUDGET, type Ec2State, type InstanceView, type Step } from '../domain/burst/lifecycle';
import { isLive, launchIdOfNodeName, type BurstInstance } from '../domain/burst/model';
import { planLaunches } from '../domain/burst/plan';
import type { Caller } from '../domain/model';
import { LimitError } from '../store/burst-store';
import type { NodeItem } from '../store/nodes-store';
import type { BurstDeps } from './burst-deps';
import { launch, startInstance } from './burst-launch';
import { deregisterNode, withStatus } from './nodes';
import { updateNode } from './node-writes';

export interface TickResult {
  launched: number;
  drained: number;
  terminated: number;
  ended: number;
  skipped: { jobId: string; reason: string }[];
  /** set when another tick held the lease and this one did nothing */
  busy?: boolean;
}

const LEASE_MS = 5 * 60_000;
/** jobs read from each queue shard per tick: the oldest and highest-priority ones */
const BACKLOG_PER_SHARD = 25;

export async function burstTick(b: BurstDeps, holder = b.d.newId()): Promise<TickResult> {
  const result: TickResult = { launched: 0, drained: 0, terminated: 0, ended: 0, skipped: [] };
  if (!b.run.settings.enabled) return result;
  if (!(await b.store.lease(holder, b.d.now(), LEASE_MS))) return { ...result, busy: true };
  try {
    await ensureBurstAccount(b);
    const nodes = await tend(b, result);
    await plan(b, result, nodes);
    return result;
  } finally {
    await b.store.release(holder);
  }
}

/** The operator's "burst" provider account; created once, conditionally. */
async function ensureBurstAccount(b: BurstDeps): Promise<void> {
  const id = b.run.burstAccountId;
  await b.d.accounts.ensure(id, () => ({ id, name: 'burst capacity (EC2)', role: 'provider', createdAt: b.d.now(), available: 0, held: 0, staked: 0 }));
}

async function burstNodes(b: BurstDeps): Promise<Map<string, NodeItem>> {
  const byLaunch = new Map<string, NodeItem>();
  let cursor: string | undefined;
  do {
    const page = await b.d.nodes.listByProvider(b.run.burstAccountId, 100, cursor);
    for (const n of page.items) {
      const id = launchIdOfNodeName(n.name);
      // newest first: the first node seen for a launch is its current one
      if (id && !byLaunch.has(id)) byLaunch.set(id, n);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return byLaunch;
}

async function tend(b: BurstDeps, result: TickResult): Promise<Map<string, NodeItem>> {
  const live = (await b.store.all()).filter(isLive);
  if (live.length === 0) return new Map();
  const nodes = await burstNodes(b);
  const ec2 = new Map<string, Ec2State>();
  const byLaunch = new Map<string, string>();
  for (const i of await b.ec2.list(b.run.stage)) {
    ec2.set(i.instanceId, i.state);
    if (i.launchId) byLaunch.set(i.launchId, i.instanceId);
  }
  for (let r of live) {
    // a launch whose RunInstances answer was lost, found by its tag: adopt the instance instead of calling again
    if (r.state === 'launching' && byLaunch.has(r.id)) {
      const next = { ...r, state: 'booting' as const, instanceId: byLaunch.get(r.id) };
      if (!(await b.store.save(r, next))) continue;
      r = { ...next, version: r.version + 1 };
    }
    const view: InstanceView = { record: r, node: nodes.get(r.id), ec2: r.instanceId ? ec2.get(r.instanceId) : undefined };
    const charged = await chargeBudget(b, r, result);
    if (charged.state === 'terminating' && r.state !== 'terminating') continue; // retired for the budget just now
    r = charged;
    await apply(b, { ...view, record: r }, nextStep({ ...view, record: r }, b.run.settings, b.d.now()), result);
  }
  return nodes;
}

/** Charges each started hour of a live instance to the day's budget; past the cap the instance goes. */
async function chargeBudget(b: BurstDeps, r: BurstInstance, result: TickResult): Promise<BurstInstance> {
  const now = b.d.now();
  if (r.state === 'launching' || r.state === 'terminating' || r.launchedAt === undefined) return r;
  const due = r.launchedAt + hoursDue(r, now) * 3_600_000;
  if ((r.committedUntil ?? 0) >= due) return r;
  try {
    return await b.store.chargeHour(r, due, b.run.settings.dailyBudgetUsd, now);
  } catch (e) {
    if (!(e instanceof LimitError)) throw e;
    if (e.limit === 'version') return (await b.store.get(r.id)) ?? r;
    // over the cap: the instance goes now; its running work is re-placed (deregistration), never lost
    await terminate(b, r, REASON_BUDGET);
    result.terminated++;
    return { ...r, state: 'terminating', stateReason: REASON_BUDGET, version: r.version + 1 };
  }
}

const burstCaller = (b: BurstDeps): Caller => ({ accountId: b.run.burstAccountId, role: 'provider', keyId: 'burst-schedule' });

async function apply(b: BurstDeps, v: InstanceView, step: Step, result: TickResult): Promise<void> {
  const r = v.record;
  const now = b.d.now();
  switch (step.kind) {
    case 'none':
      return;
    case 'retryLaunch':
      await startInstance(b, r);
      return;
    case 'linkNode':
      await b.store.save(r, { ...r, state: 'running', nodeId: step.nodeId, runningAt: now });
      return;
    case 'idle':
      await b.store.save(r, { ...r, idleSince: step.since });
      return;
    case 'busy':
      await b.store.save(r, { ...r, idleSince: undefined });
      return;
    case 'drain': {
      // conditional on the node read: a job claimed meanwhile makes this a no-op (and the claim fails after it)
      const node = await updateNode(b.d, v.node!.id, (n) => (n.status === 'ONLINE' || n.status === 'DEGRADED') && n.freeGpus === n.totalGpus ? withStatus(n, 'drain', `burst: ${step.reason}`) : n).catch(ignoreDomainError);
      if (node?.status === 'DRAINING' && (await b.store.save(r, { ...r, state: 'draining', stateReason: step.reason }))) result.drained++;
      return;
    }
    case 'terminate':
      await terminate(b, r, step.reason);
      result.terminated++;
      return;
    case 'gone':
      if (r.nodeId || v.node) await deregisterNode(b.d, burstCaller(b), (r.nodeId ?? v.node?.id)!).catch(ignoreDomainError);
      if (await b.store.end(r, 'terminated', step.reason, now)) result.ended++;
      return;
  }
}

/** Marks the record, terminates the instance and deregisters its node (its attempts are re-placed). */
async function terminate(b: BurstDeps, r: BurstInstance, reason: string): Promise<void> {
  if (r.state !== 'terminating' && !(await b.store.save(r, { ...r, state: 'terminating', stateReason: reason }))) return;
  if (r.instanceId) await b.ec2.terminate([r.instanceId]);
  if (r.nodeId) await deregisterNode(b.d, burstCaller(b), r.nodeId).catch(ignoreDomainError);
}


async function plan(b: BurstDeps, result: TickResult, nodes: Map<string, NodeItem>): Promise<void> {
  const now = b.d.now();
  const backlog = await b.d.jobs.queued(BACKLOG_PER_SHARD);
  if (backlog.length === 0) return;
  // until its agent opens a session the node is invisible to the matcher: count it as still booting
  const live = (await b.store.all())
    .filter(isLive)
    .map((r) => (r.state === 'running' && !nodes.get(r.id)?.lastSeenAt ? { ...r, state: 'booting' as const } : r));
  // a job's pendingReason may predate a burst node coming online: its free GPUs are the sweep's to fill
  const spareGpus = Object.fromEntries([...nodes].filter(([, n]) => n.status === 'ONLINE' || n.status === 'DEGRADED').map(([id, n]) => [id, n.freeGpus]));
  const p = planLaunches({ now, backlog, settings: b.run.settings, burstAccountId: b.run.burstAccountId, live, committedTodayUsd: await b.store.committedTodayUsd(now), spareGpus });
  result.skipped.push(...p.skipped);
  for (const l of p.launches) {
    const out = await launch(b, l);
    if (out.ok) result.launched++;
    else result.skipped.push(...l.jobIds.map((jobId) => ({ jobId, reason: out.reason })));
  }
}
