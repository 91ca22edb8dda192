// What a node's agent may do. A node key acts only for its own node and only on attempts assigned to it;
// anything about an attempt that is no longer live is a 409, and the agent then kills that work (fencing).
import type { FinishRequest, LogLine, PullReport, SessionResponse } from '../domain/agent-protocol';
import { conflict, forbidden, ignoreDomainError, notFound } from '../domain/errors';
import { isLiveAttempt, liveAttemptOn, MAX_GANG_NODES } from '../domain/job/gang';
import { finish as finishT, lose, type Transition } from '../domain/job/transitions';
import type { Attempt, Caller, Job } from '../domain/model';
import { startOnce, unreportedAttempt } from '../domain/job/start-ack';
import { jobWithPull, pullOutcome } from '../domain/job/pull';
import { DEADLINE_PERIODS, heartbeatDeadline, mustWriteHeartbeat } from '../domain/node/liveness';
import { isSchedulable, isWatched } from '../domain/node/status';
import type { NodeItem } from '../store/nodes-store';
import { controlPlaneKey } from './checker-settings';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { withStatus } from './nodes';
import { updateNode } from './node-writes';
import { ensureStakeLock } from './ledger';
import { wakePlacement } from './placement';
import { jobOfAttempt } from './replicas';
import { recordReplicaResult, verifyReplicas } from './verification';
import { nodeImageList, sameImageList } from '../domain/matcher/image-cache';
import { startFiles } from './files';
import { withResume } from '../domain/files/resume';
import { openAttemptSecrets } from './secrets';
import { reconcileService, reconcileServicesOn } from './service-reconcile';
import { logger } from '../observability/logger';

/** statusReason of a node whose own agent is draining (SIGTERM), as opposed to a provider's drain */
export const AGENT_DRAINING = 'agent draining';
/** statusReason of a node whose agent reported a node fault (docs/agent-hosts.md, Node faults): the agent's words follow */
export const NODE_FAULT = 'node fault: ';
/** drains its own agent set, which its next session lifts (a provider's or an operator's drain stays) */
const agentSetDrain = (reason: string | undefined) => reason === AGENT_DRAINING || !!reason?.startsWith(NODE_FAULT);

async function callerNode(d: Deps, caller: Caller): Promise<NodeItem> {
  if (!caller.nodeId) throw forbidden('a node key is required');
  const node = await d.nodes.get(caller.nodeId);
  if (!node) throw notFound('node');
  if (node.status === 'DEREGISTERED') throw conflict('node is deregistered');
  return node;
}

/** The job and attempt, if the attempt belongs to the caller's node; else 404 (never reveal others). */
async function assignedAttempt(d: Deps, caller: Caller, jobId: string, attemptId: string): Promise<{ job: Job; attempt: Attempt }> {
  // a replica is known to its agent by its group's id (replicas.ts agentJobId)
  const job = await jobOfAttempt(d, jobId, attemptId);
  const attempt = job?.attempts.find((a) => a.id === attemptId);
  if (!job || !attempt || attempt.nodeId !== caller.nodeId) throw notFound('attempt');
  return { job, attempt };
}

export async function openSession(
  d: Deps,
  caller: Caller,
  running: string[],
  probe: { probeUrl?: string; publicKey?: string; bootId?: string } = {},
): Promise<SessionResponse> {
  const before = await callerNode(d, caller);
  const queueUrl = await d.queues.ensure(before.id);
  const now = d.now();
  const live = await d.jobs.liveOnNode(before.id);
  const liveIds = new Set(live.map((j) => j.liveAttemptId));
  const busy = live.length > 0;
  const hb = d.settings.heartbeat;
  // a node takes work only while its provider's stake covers it: the lock is taken once and kept until deregistration
  const stakeShort = d.settings.ledger.minStakePerGpu > 0 ? await ensureStakeLock(d, before.id) : undefined;
  await updateNode(d, before.id, (n) => ({
    ...(stakeShort && n.status === 'OFFLINE'
      ? { ...n, statusReason: stakeShort }
      : n.status === 'DRAINING' && agentSetDrain(n.statusReason)
        ? withStatus(n, 'undrain')
        : withStatus(n, 'session', n.status === 'OFFLINE' ? undefined : n.statusReason)),
    queueUrl,
    ...(probe.bootId ? { agentBootId: probe.bootId } : {}),
    lastSeenAt: now,
    heartbeatSeconds: busy ? hb.busySeconds : hb.idleSeconds,
    // the probe server may listen elsewhere after a restart; a registered public key is never replaced
    ...(probe.probeUrl ? { probeUrl: probe.probeUrl } : {}),
    ...(probe.publicKey && !n.publicKey ? { publicKey: probe.publicKey } : {}),
  }));
  // attempts this node was running before a restart but no longer reports are lost with it; a renewed
  // session of the same agent process loses nothing (it may be starting an attempt this very moment)
  const restarted = !probe.bootId || probe.bootId !== before.agentBootId;
  const reported = new Set(running);
  const lost = restarted
    ? await loseGone(d, before.id, live, (fresh) => {
        // the attempt this node runs for the job (a gang's rank here, which may run before the job is RUNNING)
        const mine = liveAttemptOn(fresh, before.id);
        return mine?.status === 'RUNNING' && !reported.has(mine.id) ? mine : undefined;
      })
    : 0;
  // a node back in service takes waiting work now (and what it lost is placed again), not at the next sweep
  if (lost > 0 || (await d.nodes.get(before.id).then((n) => n && isSchedulable(n) && n.freeGpus > 0))) await wakePlacement(d);
  return {
    nodeId: before.id,
    queueUrl,
    leaseSeconds: DEADLINE_PERIODS * (busy ? hb.busySeconds : hb.idleSeconds),
    ...(d.settings.agentSqsEndpoint ? { sqsEndpoint: d.settings.agentSqsEndpoint } : {}),
    region: d.settings.region,
    // on AWS: STS credentials for this node's queue only, ≤ 1 h (functions/store/agent-credentials.ts)
    ...(d.settings.agentRoleArn && d.agentCredentials ? { credentials: await d.agentCredentials.issue(before.id, queueUrl) } : {}),
    heartbeat: hb,
    stale: running.filter((a) => !liveIds.has(a)),
    ...(await controlPlaneKey(d.settings.checker).then((k) => (k ? { controlPlanePublicKey: k.publicKeyText } : {}))),
  };
}

/**
 * Ends LOST the attempt `pick` names in each of `jobs` (read again first: the index is eventually
 * consistent), each under the job's version; returns how many ended.
 */
async function loseGone(d: Deps, nodeId: string, jobs: Job[], pick: (fresh: Job) => Attempt | undefined): Promise<number> {
  let lost = 0;
  for (const j of jobs) {
    const fresh = await d.jobs.get(j.id);
    const gone = fresh && pick(fresh);
    if (!fresh || !gone || gone.nodeId !== nodeId) continue;
    const after = await applyTransition(d, fresh, (x) => lose(x, gone.id, 'NODE_LOST', d.now())).catch(ignoreDomainError);
    if (after) {
      d.metrics.ifLost(after, gone.id);
      lost++;
    }
  }
  return lost;
}

export async function heartbeat(
  d: Deps,
  caller: Caller,
  b: { running: string[]; startSeq?: number; draining?: boolean; fault?: string; telemetry?: unknown; images?: string[]; services?: { attemptId: string; ready: boolean }[] },
) {
  const { running, telemetry } = b;
  let node = await callerNode(d, caller);
  // a node the reaper declared offline must open a new session; its old work has moved on
  if (!isWatched(node)) throw conflict(`node is ${node.status}; open a new session`);
  // the agent got SIGTERM, or found its node unable to run work (a node fault, shown in the status until
  // the agent's next session): take no new work here
  if ((b.draining || b.fault) && isSchedulable(node)) {
    node = await updateNode(d, node.id, (n) => withStatus(n, 'drain', b.fault ? `${NODE_FAULT}${b.fault}` : AGENT_DRAINING));
    // its service replicas get their replacements now, within the agent's drain deadline
    await reconcileServicesOn(d, node.id);
  }
  const live = await d.jobs.liveOnNode(node.id);
  const period = running.length > 0 || live.length > 0 ? d.settings.heartbeat.busySeconds : d.settings.heartbeat.idleSeconds;
  const now = d.now();
  // the images the node holds are written when they change (the matcher prefers nodes holding a job's image)
  const images = b.images && nodeImageList(b.images);
  const newImages = images && !sameImageList(node.images, images) ? images : undefined;
  const write = mustWriteHeartbeat(node, now, period) || newImages !== undefined;
  if (write && !(await d.nodes.touch(node, now, period, telemetry, newImages))) {
    throw conflict(`node is no longer ONLINE; open a new session`);
  }
  const deadline = write ? heartbeatDeadline({ lastSeenAt: now, heartbeatSeconds: period })! : heartbeatDeadline(node)!;
  // attempts RUNNING here that the agent no longer lists (their start answer was lost, their finish never
  // came): ended LOST and placed again now, not when maxDurationSeconds runs out (domain/job/start-ack.ts)
  const reported = new Set(running);
  const unlisted = b.startSeq === undefined ? [] : live.filter((j) => j.liveAttemptId && !reported.has(j.liveAttemptId));
  if (unlisted.length > 0 && (await loseGone(d, node.id, unlisted, (fresh) => unreportedAttempt(fresh, node.id, reported, b.startSeq!))) > 0) {
    await wakePlacement(d);
  }
  // service replicas' readiness: written when it changed, then their services reconcile (a rolling update moves on now)
  if (b.services?.length) await recordReadiness(d, node, live, b.services);
  const liveIds = new Set(live.map((j) => j.liveAttemptId));
  return {
    nextHeartbeatSeconds: period,
    leaseSeconds: Math.max(0, (deadline - now) / 1000),
    stale: running.filter((a) => !liveIds.has(a)),
    cancel: live.filter((j) => j.cancelRequested && j.liveAttemptId).map((j) => j.liveAttemptId!),
    ...(node.warmImages?.length ? { warmImages: node.warmImages } : {}),
  };
}

/**
 * Writes each reported replica's readiness on its job (attempt.ready, readyChangedAt, and endpoint: the
 * node's ingress, its probe URL's origin) when it changed, then reconciles the services whose replicas
 * changed. Only attempts live on the caller's node count: a report about any other attempt is ignored, so
 * a node can never make another node's replica look ready or not.
 */
async function recordReadiness(d: Deps, node: NodeItem, live: Job[], reports: { attemptId: string; ready: boolean }[]): Promise<void> {
  const endpoint = node.probeUrl && URL.canParse(node.probeUrl) ? new URL(node.probeUrl).origin : undefined;
  const changed = new Set<string>();
  for (const r of reports) {
    const job = live.find((j) => j.service && j.liveAttemptId === r.attemptId);
    if (!job) continue;
    const after = await applyTransition(
      d,
      job,
      (j) => {
        const a = j.attempts.find((x) => x.id === r.attemptId);
        if (!j.service || j.liveAttemptId !== r.attemptId || !a || a.nodeId !== node.id || a.status !== 'RUNNING') throw conflict('not a live replica of this node');
        // never-ready (undefined) and not ready are one state: no write until the first ready
        if ((a.ready ?? false) === r.ready && (!r.ready || a.endpoint === endpoint)) throw conflict('unchanged');
        const next = { ...a, ready: r.ready, readyChangedAt: (a.ready ?? false) === r.ready ? a.readyChangedAt : d.now(), ...(endpoint ? { endpoint } : {}) };
        return { job: { ...j, attempts: j.attempts.map((x) => (x.id === a.id ? next : x)), version: j.version + 1 }, effects: [] };
      },
      { retries: READINESS_RETRIES },
    ).catch(ignoreDomainError);
    if (after?.service) changed.add(after.service.id);
  }
  for (const id of changed) {
    // the heartbeat's answer does not wait on a failed pass: the tick reconciles again
    await reconcileService(d, id).catch((e) => logger.warn('service reconcile after readiness failed', { serviceId: id, error: e }));
  }
}

/** a replica's job is also written by its renewals and the reaper: a few re-reads cover those */
const READINESS_RETRIES = 3;

/**
 * ASSIGNED → RUNNING. A repeat by the same node (its first answer was lost) is answered the same way, so
 * the agent's retry runs the attempt; `seq` is the agent's start counter (domain/job/start-ack.ts). The
 * node moves to the busy heartbeat deadline at once: an agent that dies before its first busy beat is
 * written off within 4 busy periods, not 4 idle ones.
 */
export async function startAttempt(d: Deps, caller: Caller, jobId: string, attemptId: string, seq?: number) {
  const { job } = await assignedAttempt(d, caller, jobId, attemptId);
  // counted once: only the write that moved the attempt from ASSIGNED (concurrent repeats all read ASSIGNED)
  let moved = false;
  const after = await applyTransition(
    d,
    job,
    (j) => {
      moved = j.attempts.some((a) => a.id === attemptId && a.status === 'ASSIGNED');
      const t = startOnce(j, attemptId, caller.nodeId!, d.now(), seq);
      // the checkpoint startFiles hands out below, and what it saved: shown on the attempt (docs/data.md)
      return moved ? { ...t, job: withResume(t.job, attemptId) } : t;
    },
    { retries: RANK_RACE_RETRIES },
  );
  if (moved) d.metrics.started(after, attemptId);
  // opened only now that this node holds the live attempt: a refused or replayed-after-the-end start gets nothing
  const opened = await openAttemptSecrets(d, after);
  if (opened.missing.length > 0) await failForMissingSecrets(d, after, attemptId, opened.missing);
  const leaseSeconds = await toBusyDeadline(d, caller.nodeId!);
  // links to the inputs and the checkpoint to restore, for this attempt only (docs/data.md)
  const files = await startFiles(d, after);
  return { ...(files ? { files } : {}), status: after.status, attemptId, ...(leaseSeconds === undefined ? {} : { leaseSeconds }), ...(opened.secrets ? { secrets: opened.secrets } : {}) };
}

/**
 * A secret the job names was deleted after the submit: the attempt cannot run as asked, and no later
 * attempt could either, so the job fails (SECRET_NOT_FOUND, the names on the attempt) and the agent is
 * told 409 (it drops the dispatch). Checked here, where the values are read, so no window is left between
 * a check and the use.
 */
async function failForMissingSecrets(d: Deps, job: Job, attemptId: string, missing: string[]): Promise<never> {
  const message = `secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} no longer exist${missing.length > 1 ? '' : 's'} (deleted after the job was submitted)`;
  await applyTransition(
    d,
    job,
    (j) => {
      const t = finishT(j, attemptId, { exitCode: null, outcome: 'error', reason: 'SECRET_NOT_FOUND' }, d.now());
      return { ...t, job: { ...t.job, attempts: t.job.attempts.map((a) => (a.id === attemptId ? { ...a, message } : a)) } };
    },
    { retries: RANK_RACE_RETRIES },
  ).catch(ignoreDomainError);
  await wakePlacement(d);
  throw conflict(`attempt ${attemptId} cannot start: ${message}`);
}

/** Puts the node on the busy deadline (if not already) and returns the lease left, in seconds. */
async function toBusyDeadline(d: Deps, nodeId: string): Promise<number | undefined> {
  const node = await d.nodes.get(nodeId);
  if (!node || !isWatched(node)) return undefined;
  const busy = d.settings.heartbeat.busySeconds;
  const now = d.now();
  // the agent learns the shorter lease from this answer, so it stops in time if it cannot beat any more.
  // A start is proof of life, written as a beat would be (the period changed, or the deadline is near):
  // the agent counts it as one and postpones its next beat, so an unwritten start could leave it a lease
  // shorter than a period and its running work would be stopped for nothing
  const moved = mustWriteHeartbeat(node, now, busy) && (await d.nodes.touch(node, now, busy));
  const deadline = moved ? heartbeatDeadline({ lastSeenAt: now, heartbeatSeconds: busy }) : heartbeatDeadline(node);
  return deadline === undefined ? undefined : Math.max(0, (deadline - now) / 1000);
}

export async function appendLogs(d: Deps, caller: Caller, jobId: string, attemptId: string, lines: LogLine[], pull?: PullReport) {
  const { job, attempt } = await assignedAttempt(d, caller, jobId, attemptId);
  if (!isLiveAttempt(job, attemptId)) throw conflict(`attempt ${attemptId} is not live`);
  await d.logs.append(job.id, attempt.n, lines, d.now());
  // the image pull's phase, shown on the attempt (domain/job/pull.ts); written only when it changes something
  if (pull && jobWithPull(job, attemptId, pull, d.now()) !== job) {
    await applyTransition(d, job, (j) => ({ job: { ...jobWithPull(j, attemptId, pull, d.now()), version: j.version + 1 }, effects: [] }), { retries: RANK_RACE_RETRIES });
  }
  return { accepted: lines.length };
}

export async function finishAttempt(d: Deps, caller: Caller, jobId: string, body: FinishRequest) {
  const { job, attempt } = await assignedAttempt(d, caller, jobId, body.attemptId);
  if (!isLiveAttempt(job, body.attemptId)) throw conflict(`attempt ${body.attemptId} is not live`);
  // output first, so a consumer who sees the final state also sees every line
  if (body.lines.length) await d.logs.append(job.id, attempt.n, body.lines, d.now());
  // a replica's result is stored before its attempt ends, so whoever sees it ended also sees the result
  await recordReplicaResult(d, job, attempt, body);
  // the image's last state rides on finish too; a failed pull's type decides whose fault the end is
  // an input the node could not place as asked is typed, so the consumer sees which of its inputs to fix
  const end = { ...body, ...(body.failure === 'INPUT_FAILED' && body.outcome === 'error' ? { reason: 'INPUT_FAILED' as const } : {}), ...pullOutcome(body.pull, body.outcome) };
  const after = await applyTransition(d, job, (j) => finishT(body.pull ? jobWithPull(j, body.attemptId, body.pull, d.now()) : j, body.attemptId, end, d.now()), { retries: RANK_RACE_RETRIES });
  d.metrics.ifLost(after, body.attemptId);
  // the last replica to end decides the group's verdict (exactly once: a conditional put)
  if (after.replicaGroup && !after.liveAttemptId) await verifyReplicas(d, after);
  // GPUs came free: placement runs now, apart from this request (placement-wake.ts)
  await wakePlacement(d);
  return { status: after.status, reason: after.reason ?? null };
}

/**
 * The ranks of a gang all report on one job item, so a start or finish may lose to another rank's write
 * (the version moved): read again and retry. The transition still refuses an attempt no longer live, so
 * a duplicate start or a finish after the reaper is a 409 as before. Each round of a race lets one rank
 * through, so a gang's ranks all get through within its size; twice the largest gang is the margin for the
 * job's other writers (the reaper, a cancel, an image-pull report) taking rounds too.
 */
const RANK_RACE_RETRIES = 2 * MAX_GANG_NODES;
