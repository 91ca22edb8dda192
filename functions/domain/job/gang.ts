// Gang jobs (resources.nodes > 1): one attempt per rank, each on a different node, placed together in
// one transaction and failed or re-placed together. Pure, like transitions.ts, which hands gangs here.
//
//   placeGang          QUEUED → ASSIGNED: N attempts (ranks 0..N-1) on N distinct nodes, N claims, N holds
//   start(rank)        that rank RUNNING; the job RUNNING once no rank of the generation waits to start
//   finish(rank, 0)    that rank ends alone (its GPUs back, its escrow settled); the job SUCCEEDS when its
//                      last live rank ends and every rank exited 0
//   finish(rank, ≠0 | error | timed out)
//                      every other live rank is CANCELLED (GANG_ABORTED: charged its time, told to stop);
//                      the job FAILED / TIMED_OUT, or QUEUED again as a whole when `retry` covers the code
//   lose(rank)         node lost, dispatch timeout, drained: every live rank ends LOST (GANG_ABORTED for the
//                      others, so no rank is charged); QUEUED while attempts remain, else FAILED
//   cancel             ranks not started end at once; running ranks are asked to stop and end as they
//                      report (the reaper forces it after the grace); the job CANCELLED when none is left
// A placement of the whole gang counts as one attempt against maxAttempts.
import { conflict } from '../errors';
import type { Attempt, AttemptStatus, Job, Node, Reason } from '../model';
import { attemptsExhausted, endEffects, endedAttempt, endStatus, placements, retriesUsed, retryAfter } from './attempt-end';
import { newAttempt } from './new-attempt';
import type { Effect, FinishOutcome, Transition } from './transition-types';

/** The largest gang: ending one writes 7 items per rank and 4 more, within DynamoDB's 100 (docs/scheduling.md). */
export const MAX_GANG_NODES = 12;
/** torchrun's default port; a placement's rendezvous port is this plus a hash below GANG_PORT_SPAN */
export const GANG_BASE_PORT = 29500;
export const GANG_PORT_SPAN = 2000;

export const isGang = (job: Pick<Job, 'resources'>) => job.resources.nodes > 1;
const LIVE: readonly AttemptStatus[] = ['ASSIGNED', 'RUNNING'];
const isLive = (a: Attempt) => LIVE.includes(a.status);

/** The attempts of the gang's current placement, by rank. */
export function generation(job: Job): Attempt[] {
  return (job.gang?.attemptIds ?? []).flatMap((id) => job.attempts.filter((a) => a.id === id));
}

export const liveRanks = (job: Job): Attempt[] => generation(job).filter(isLive);

/** Whether `attemptId` is live: the one live attempt of a job, or a live rank of a gang. */
export function isLiveAttempt(job: Job, attemptId: string): boolean {
  if (!isGang(job)) return job.liveAttemptId === attemptId && job.attempts.some((a) => a.id === attemptId);
  return liveRanks(job).some((a) => a.id === attemptId);
}

/** The live attempt of this job on `nodeId`, if any (the ranks of a gang are on distinct nodes). */
export function liveAttemptOn(job: Job, nodeId: string): Attempt | undefined {
  const live = isGang(job) ? liveRanks(job) : job.attempts.filter((a) => a.id === job.liveAttemptId);
  return live.find((a) => a.nodeId === nodeId);
}

/**
 * The rendezvous port of one placement: the same for every rank, chosen by the control plane without
 * asking the nodes. Two gangs sharing a node collide with probability 1/GANG_PORT_SPAN; the rank that
 * cannot bind fails, and the next placement hashes to another port.
 */
export function gangPort(jobId: string, placement: number): number {
  const key = `${jobId}#${placement}`;
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return GANG_BASE_PORT + ((h >>> 0) % GANG_PORT_SPAN);
}

export interface GangNode extends Pick<Node, 'id' | 'pricePerGpuHour'>, Partial<Pick<Node, 'providerId'>> {
  /** where the other ranks reach this node: host name or IP address */
  address: string;
}

const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
const cancelMsg = (a: Attempt): Effect => ({ kind: 'sendCancel', nodeId: a.nodeId, attemptId: a.id });

/** QUEUED → ASSIGNED on `nodes` (rank = position), with one fresh attempt per rank. */
export function placeGang(job: Job, nodes: readonly GangNode[], attemptIds: readonly string[], now: number): Transition {
  if (job.status !== 'QUEUED') throw conflict(`job is ${job.status}, not QUEUED`);
  if (job.held) throw conflict('job waits for its dependencies');
  if (job.notBefore && now < job.notBefore) throw conflict('job is waiting out its retry backoff');
  const size = job.resources.nodes;
  if (nodes.length !== size || attemptIds.length !== size) throw new Error(`a gang of ${size} needs ${size} nodes and attempt ids`);
  if (new Set(nodes.map((n) => n.id)).size !== size) throw new Error('the ranks of a gang need distinct nodes');
  const port = gangPort(job.id, placements(job));
  const attempts = nodes.map((node, rank) => newAttempt(job, node, attemptIds[rank], job.attempts.length + rank, now, rank));
  const { pendingReason: _p, notBefore: _n, ...rest } = job;
  const gang = { attemptIds: [...attemptIds], masterPort: port, peers: nodes.map((n) => hostPort(n.address, port)) };
  return {
    job: { ...rest, status: 'ASSIGNED', nodeId: nodes[0].id, liveAttemptId: attemptIds[0], gang, attempts: [...job.attempts, ...attempts], version: job.version + 1 },
    effects: attempts.flatMap((a): Effect[] => [
      { kind: 'claimGpus', nodeId: a.nodeId, gpus: job.resources.gpus },
      { kind: 'hold', attempt: a.n },
      { kind: 'dispatch', nodeId: a.nodeId, attemptId: a.id },
    ]),
  };
}

function liveRank(job: Job, attemptId: string): Attempt {
  const a = liveRanks(job).find((x) => x.id === attemptId);
  if (!a) throw conflict(`attempt ${attemptId} is not live`);
  return a;
}

/**
 * The job with some of its ranks replaced: `liveAttemptId`/`nodeId` follow the lowest live rank, an
 * ASSIGNED gang whose live ranks have all started is RUNNING, and a gang with no live rank left loses
 * its live fields (the caller sets the status it ends in).
 */
function withRanks(job: Job, changed: readonly Attempt[], now: number): Job {
  const byId = new Map(changed.map((a) => [a.id, a]));
  const next: Job = { ...job, attempts: job.attempts.map((a) => byId.get(a.id) ?? a), version: job.version + 1 };
  const live = liveRanks(next);
  if (!live.length) {
    const { liveAttemptId: _l, cancelRequested: _c, ...rest } = next;
    return rest;
  }
  const started = next.status === 'ASSIGNED' && live.every((a) => a.status === 'RUNNING');
  return { ...next, liveAttemptId: live[0].id, nodeId: live[0].nodeId, ...(started ? { status: 'RUNNING', startedAt: job.startedAt ?? now } : {}) };
}

/** Ends `ranks` with `status`, the others of the list too, and returns the effects: GPUs, escrow, stop messages. */
function endRanks(job: Job, ends: readonly [Attempt, AttemptStatus, Reason | undefined, number?][], now: number, told: readonly Attempt[]) {
  const ended = ends.map(([a, status, reason, exitCode]) => endedAttempt(job, a, status, reason, now, exitCode));
  const effects = [...ends.flatMap(([a]) => endEffects(job, a)), ...told.map(cancelMsg)];
  return { next: withRanks(job, ended, now), effects };
}

/** A rank's agent starts it. Only a live, not yet started rank of an ASSIGNED gang may start. */
export function startGang(job: Job, attemptId: string, now: number): Transition {
  const a = liveRank(job, attemptId);
  if (job.status !== 'ASSIGNED' || a.status !== 'ASSIGNED') throw conflict(`attempt ${attemptId} already started`);
  return { job: withRanks(job, [{ ...a, status: 'RUNNING', startedAt: now }], now), effects: [] };
}

export function finishGang(job: Job, attemptId: string, r: { exitCode: number | null; outcome: FinishOutcome; reason?: Reason }, now: number): Transition {
  const a = liveRank(job, attemptId);
  const exitCode = r.exitCode ?? undefined;
  if (r.outcome === 'lost') return loseGang(job, attemptId, r.reason ?? 'NODE_LOST', now);
  // the agent gave the rank back (drain): not the job's fault, so the gang goes back to the queue
  if (r.outcome === 'cancelled' && !job.cancelRequested) return loseGang(job, attemptId, 'NODE_DRAINED', now);
  if ((r.outcome === 'exited' && exitCode === 0) || r.outcome === 'cancelled') {
    // this rank is done; the others carry on (ranks of a healthy job end moments apart)
    const status = r.outcome === 'cancelled' ? 'CANCELLED' : 'SUCCEEDED';
    const { next, effects } = endRanks(job, [[a, status, status === 'CANCELLED' ? 'CANCELLED_BY_USER' : undefined, exitCode]], now, []);
    if (liveRanks(next).length) return { job: next, effects };
    const succeeded = generation(next).every((x) => x.status === 'SUCCEEDED');
    return {
      job: succeeded ? { ...next, status: 'SUCCEEDED', finishedAt: now, exitCode: 0 } : { ...next, status: 'CANCELLED', reason: 'CANCELLED_BY_USER', finishedAt: now },
      effects,
    };
  }
  const [status, reason] = endStatus(r, exitCode);
  // the gang cannot go on without this rank: stop the others, charged for the time they ran
  const others = liveRanks(job).filter((x) => x.id !== a.id);
  const { next, effects } = endRanks(job, [[a, status, reason, exitCode], ...others.map((x): [Attempt, AttemptStatus, Reason] => [x, 'CANCELLED', 'GANG_ABORTED'])], now, others);
  const retry = retryAfter(job, r.outcome, exitCode);
  if (retry !== undefined) {
    const pendingReason = `retry ${retriesUsed(job) + 1} of ${job.retry!.max} after exit code ${exitCode} of rank ${a.rank}`;
    return { job: { ...next, status: 'QUEUED', queuedAt: now, notBefore: now + retry, pendingReason }, effects };
  }
  return { job: { ...next, status, reason, finishedAt: now, ...(exitCode === undefined ? {} : { exitCode }) }, effects };
}

/** A rank was lost to its node: the whole gang ends LOST (nobody is charged) and is placed again as a whole. */
export function loseGang(job: Job, attemptId: string, reason: Reason, now: number): Transition {
  let a = liveRank(job, attemptId);
  // the reaper names the lowest live rank; a dispatch timeout is the fault of a rank that never started
  if (reason === 'DISPATCH_TIMEOUT') a = liveRanks(job).find((x) => x.status === 'ASSIGNED') ?? a;
  const others = liveRanks(job).filter((x) => x.id !== a.id);
  const { next, effects } = endRanks(job, [[a, 'LOST', reason], ...others.map((x): [Attempt, AttemptStatus, Reason] => [x, 'LOST', 'GANG_ABORTED'])], now, others);
  return {
    job: attemptsExhausted(job)
      ? { ...next, status: 'FAILED', reason: 'MAX_ATTEMPTS', finishedAt: now }
      : { ...next, status: 'QUEUED', queuedAt: now, pendingReason: `re-queued after ${reason} of rank ${a.rank}` },
    effects,
  };
}

/** The consumer cancels a placed gang (QUEUED is handled by cancel() itself). */
export function cancelGang(job: Job, now: number): Transition {
  const live = liveRanks(job);
  const waiting = live.filter((x) => x.status === 'ASSIGNED');
  const running = live.filter((x) => x.status === 'RUNNING');
  if (job.cancelRequested && !waiting.length) return { job, effects: running.map(cancelMsg) };
  const { next, effects } = endRanks(job, waiting.map((x): [Attempt, AttemptStatus, Reason] => [x, 'CANCELLED', 'CANCELLED_BY_USER']), now, waiting);
  if (!running.length) return { job: { ...next, status: 'CANCELLED', reason: 'CANCELLED_BY_USER', finishedAt: now }, effects };
  return { job: { ...next, cancelRequested: job.cancelRequested ?? now }, effects: [...effects, ...running.map(cancelMsg)] };
}

/** The reaper's backstops: a cancel the agents never confirmed, a duration they did not enforce. */
export function forceCancelGang(job: Job, now: number): Transition {
  return endAll(job, 'CANCELLED', 'CANCELLED_BY_USER', now);
}

export function timeOutGang(job: Job, now: number): Transition {
  return endAll(job, 'TIMED_OUT', 'TIMED_OUT', now);
}

function endAll(job: Job, status: 'CANCELLED' | 'TIMED_OUT', reason: Reason, now: number): Transition {
  const live = liveRanks(job);
  if (!live.length) throw conflict('no live attempt');
  const { next, effects } = endRanks(job, live.map((x): [Attempt, AttemptStatus, Reason] => [x, status, reason]), now, live);
  return { job: { ...next, status, reason, finishedAt: now }, effects };
}

/** What a rank's agent is told about its gang (dispatch message), or undefined for a single-node attempt. */
export function gangSpec(job: Job, attemptId: string) {
  const a = job.attempts.find((x) => x.id === attemptId);
  if (!job.gang || a?.rank === undefined || !job.gang.attemptIds.includes(attemptId)) return undefined;
  const master = job.gang.peers[0];
  const masterAddr = master.slice(0, master.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  return { rank: a.rank, worldSize: job.gang.peers.length, peers: job.gang.peers, masterAddr, masterPort: job.gang.masterPort };
}
