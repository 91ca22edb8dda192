// The job state machine. Pure: each transition takes the job as read and returns the next job plus the
// side effects the store must apply in the same transaction (GPU claims and releases) or after it
// (queue messages). The store writes the result under `version = <read version>`, so two racing
// transitions can never both apply.
//
//            place                start                finish(exit 0)
//   QUEUED ────────► ASSIGNED ─────────► RUNNING ───────────────────► SUCCEEDED
//     ▲  │              │  │                │  │ finish(exit≠0)      FAILED (EXIT_NONZERO, RUNTIME_ERROR)
//     │  │ cancel       │  │ cancel         │  │ finish(timed out)   TIMED_OUT
//     │  ▼              │  ▼                │  │ cancel → cancelRequested, then finish(cancelled) → CANCELLED
//     │ CANCELLED       │ CANCELLED         │  │
//     └─────────────────┴──── lose (node lost, dispatch timeout, drained) while attempts remain
//     │                       lose with no attempts left → FAILED (MAX_ATTEMPTS)
//     └── finish(exit code listed in `retry`) while retries remain, after a doubling backoff
//   QUEUED past queueTtlSeconds → FAILED (QUEUE_TTL_EXPIRED)
// Gangs (resources.nodes > 1) follow the same diagram with one attempt per rank: gang.ts.
//
// `transition(job, event, now)` is the one way in: one guard (an ended job takes no event but a repeated
// cancel), then the single-node or the gang version of the event. The named functions below are its
// shorthands.
import { conflict } from '../errors';
import type { Attempt, AttemptStatus, Job, Reason } from '../model';
import type { FinishOutcome, Transition } from './transition-types';
import { attemptsExhausted, endEffects, endedAttempt, endStatus, replaceAttempt, retriesUsed, retryAfter } from './attempt-end';
import { cancelGang, finishGang, forceCancelGang, isGang, loseGang, placeGang, startGang, timeOutGang, type GangNode } from './gang';
import { newAttempt, type AttemptNode } from './new-attempt';

export { attemptCharge } from './attempt-end';

export type { Effect, FinishOutcome, Transition } from './transition-types';

const isFinal = (j: Job) => ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(j.status);

type Finished = { exitCode: number | null; outcome: FinishOutcome; reason?: Reason };

/** What can happen to a job: the arrows of the diagram above. */
export type JobEvent =
  | { kind: 'place'; node: AttemptNode; attemptId: string }
  | { kind: 'placeGang'; nodes: readonly GangNode[]; attemptIds: readonly string[] }
  | { kind: 'start'; attemptId: string }
  | ({ kind: 'finish'; attemptId: string } & Finished)
  | { kind: 'lose'; attemptId: string; reason: Reason }
  | { kind: 'cancel' }
  | { kind: 'expire' }
  | { kind: 'forceCancel' }
  | { kind: 'timeOut' };

/** The job after `event`, and what the store must do with it. Throws a conflict where the diagram has no such arrow. */
export function transition(job: Job, event: JobEvent, now: number): Transition {
  if (isFinal(job)) {
    // cancelling a cancelled job is allowed on purpose (idempotent DELETE); nothing else moves an ended job
    if (event.kind === 'cancel' && job.status === 'CANCELLED') return { job, effects: [] };
    throw conflict(`job already ended ${job.status}`);
  }
  const gang = isGang(job);
  switch (event.kind) {
    case 'place':
      if (gang) throw conflict('a gang is placed on all its nodes at once (placeGang)');
      return placeOne(job, event.node, event.attemptId, now);
    case 'placeGang':
      return placeGang(job, event.nodes, event.attemptIds, now);
    case 'start':
      return gang ? startGang(job, event.attemptId, now) : startOne(job, event.attemptId, now);
    case 'finish':
      return gang ? finishGang(job, event.attemptId, event, now) : finishOne(job, event.attemptId, event, now);
    case 'lose':
      return gang ? loseGang(job, event.attemptId, event.reason, now) : loseOne(job, event.attemptId, event.reason, now);
    case 'cancel':
      return cancelJob(job, now);
    case 'expire':
      return expireQueued(job, now);
    case 'forceCancel':
      return gang ? forceCancelGang(job, now) : forceCancelOne(job, now);
    case 'timeOut':
      return gang ? timeOutGang(job, now) : timeOutOne(job, now);
  }
}

export const place = (job: Job, node: AttemptNode, attemptId: string, now: number) => transition(job, { kind: 'place', node, attemptId }, now);
export const start = (job: Job, attemptId: string, now: number) => transition(job, { kind: 'start', attemptId }, now);
export const finish = (job: Job, attemptId: string, r: Finished, now: number) => transition(job, { kind: 'finish', attemptId, ...r }, now);
export const lose = (job: Job, attemptId: string, reason: Reason, now: number) => transition(job, { kind: 'lose', attemptId, reason }, now);
export const cancel = (job: Job, now: number) => transition(job, { kind: 'cancel' }, now);
export const expire = (job: Job, now: number) => transition(job, { kind: 'expire' }, now);
export const forceCancel = (job: Job, now: number) => transition(job, { kind: 'forceCancel' }, now);
export const timeOut = (job: Job, now: number) => transition(job, { kind: 'timeOut' }, now);

function liveAttempt(job: Job, attemptId: string): Attempt {
  const a = job.attempts.find((x) => x.id === attemptId);
  if (!a || job.liveAttemptId !== attemptId) throw conflict(`attempt ${attemptId} is not live`);
  return a;
}

function endAttempt(job: Job, a: Attempt, status: AttemptStatus, reason: Reason | undefined, now: number, exitCode?: number): Job {
  const ended = endedAttempt(job, a, status, reason, now, exitCode);
  const { liveAttemptId: _gone, cancelRequested: _c, cancelReason: _r, ...rest } = job;
  return { ...rest, attempts: replaceAttempt(job, ended), version: job.version + 1 };
}

/** QUEUED → ASSIGNED on `node`, with a fresh attempt. */
function placeOne(job: Job, node: AttemptNode, attemptId: string, now: number): Transition {
  if (job.status !== 'QUEUED') throw conflict(`job is ${job.status}, not QUEUED`);
  if (job.held) throw conflict('job waits for its dependencies');
  const attempt = newAttempt(job, node, attemptId, job.attempts.length, now);
  if (job.notBefore && now < job.notBefore) throw conflict('job is waiting out its retry backoff');
  const { pendingReason: _p, notBefore: _n, ...rest } = job;
  return {
    job: { ...rest, status: 'ASSIGNED', nodeId: node.id, liveAttemptId: attemptId, attempts: [...job.attempts, attempt], version: job.version + 1 },
    effects: [
      { kind: 'claimGpus', nodeId: node.id, gpus: job.resources.gpus },
      { kind: 'hold', attempt: attempt.n },
      { kind: 'dispatch', nodeId: node.id, attemptId },
    ],
  };
}

/** ASSIGNED → RUNNING, only for the live attempt. A second start (duplicate delivery) is a conflict. */
function startOne(job: Job, attemptId: string, now: number): Transition {
  const a = liveAttempt(job, attemptId);
  if (job.status !== 'ASSIGNED' || a.status !== 'ASSIGNED') throw conflict(`attempt ${attemptId} already started`);
  const running: Attempt = { ...a, status: 'RUNNING', startedAt: now };
  return {
    job: { ...job, status: 'RUNNING', startedAt: job.startedAt ?? now, attempts: replaceAttempt(job, running), version: job.version + 1 },
    effects: [],
  };
}

/** The agent reports the end of the live attempt. */
function finishOne(job: Job, attemptId: string, r: Finished, now: number): Transition {
  const a = liveAttempt(job, attemptId);
  const exitCode = r.exitCode ?? undefined;
  // the node lost the attempt (agent restart, capacity mismatch): an infrastructure failure
  if (r.outcome === 'lost') return loseOne(job, attemptId, r.reason ?? 'NODE_LOST', now);
  if (r.outcome === 'cancelled' && !job.cancelRequested) {
    // the agent gave the attempt back (drain): not the job's fault, so it goes back to the queue
    return loseOne(job, attemptId, 'NODE_DRAINED', now);
  }
  const [status, reason] = endStatus(r, exitCode, job.cancelReason);
  const ended = endAttempt(job, a, status, reason, now, exitCode);
  const retry = retryAfter(job, r.outcome, exitCode);
  if (retry !== undefined) {
    const n = retriesUsed(job) + 1;
    return {
      job: { ...ended, status: 'QUEUED', queuedAt: now, notBefore: now + retry, pendingReason: `retry ${n} of ${job.retry!.max} after exit code ${exitCode}` },
      effects: endEffects(job, a),
    };
  }
  return {
    job: { ...ended, status, reason, finishedAt: now, ...(exitCode === undefined ? {} : { exitCode }) },
    effects: endEffects(job, a),
  };
}

/** The live attempt was lost to its node: back to the queue while attempts remain, else FAILED. */
function loseOne(job: Job, attemptId: string, reason: Reason, now: number): Transition {
  const a = liveAttempt(job, attemptId);
  const ended = endAttempt(job, a, 'LOST', reason, now);
  // retries the consumer asked for do not use up the attempts that cover infrastructure failures
  const next: Job = attemptsExhausted(job)
    ? { ...ended, status: 'FAILED', reason: 'MAX_ATTEMPTS', finishedAt: now }
    : { ...ended, status: 'QUEUED', queuedAt: now, pendingReason: `re-queued after ${reason}` };
  return { job: next, effects: endEffects(job, a) };
}

/**
 * The consumer cancels. QUEUED and ASSIGNED (not yet acknowledged) end at once; RUNNING asks the agent
 * to stop and ends when it reports back (the reaper forces it if the agent never does).
 * Cancelling a cancelled job is allowed on purpose (idempotent DELETE); other final states conflict.
 */
function cancelJob(job: Job, now: number): Transition {
  if (job.status === 'QUEUED') {
    const { pendingReason: _p, ...rest } = job;
    return { job: { ...rest, status: 'CANCELLED', reason: 'CANCELLED_BY_USER', finishedAt: now, version: job.version + 1 }, effects: [] };
  }
  if (isGang(job)) return cancelGang(job, now);
  const a = liveAttempt(job, job.liveAttemptId!);
  if (job.status === 'ASSIGNED') {
    const ended = endAttempt(job, a, 'CANCELLED', 'CANCELLED_BY_USER', now);
    return {
      job: { ...ended, status: 'CANCELLED', reason: 'CANCELLED_BY_USER', finishedAt: now },
      effects: [...endEffects(job, a), { kind: 'sendCancel', nodeId: a.nodeId, attemptId: a.id }],
    };
  }
  if (job.cancelRequested) return { job, effects: [{ kind: 'sendCancel', nodeId: a.nodeId, attemptId: a.id }] };
  return {
    job: { ...job, cancelRequested: now, version: job.version + 1 },
    effects: [{ kind: 'sendCancel', nodeId: a.nodeId, attemptId: a.id }],
  };
}

/** A job that waited QUEUED past its queueTtlSeconds. */
function expireQueued(job: Job, now: number): Transition {
  if (job.status !== 'QUEUED') throw conflict(`job is ${job.status}, not QUEUED`);
  const { pendingReason: _p, notBefore: _n, ...rest } = job;
  return { job: { ...rest, status: 'FAILED', reason: 'QUEUE_TTL_EXPIRED', finishedAt: now, version: job.version + 1 }, effects: [] };
}

/** The reaper's backstop when a cancelled attempt's agent never reports back. */
function forceCancelOne(job: Job, now: number): Transition {
  const a = liveAttempt(job, job.liveAttemptId!);
  const why = job.cancelReason ?? 'CANCELLED_BY_USER';
  const ended = endAttempt(job, a, 'CANCELLED', why, now);
  return { job: { ...ended, status: 'CANCELLED', reason: why, finishedAt: now }, effects: endEffects(job, a) };
}

/** The reaper's backstop for maxDurationSeconds when the agent did not enforce it. */
function timeOutOne(job: Job, now: number): Transition {
  const a = liveAttempt(job, job.liveAttemptId!);
  const ended = endAttempt(job, a, 'TIMED_OUT', 'TIMED_OUT', now);
  return { job: { ...ended, status: 'TIMED_OUT', reason: 'TIMED_OUT', finishedAt: now }, effects: endEffects(job, a) };
}
