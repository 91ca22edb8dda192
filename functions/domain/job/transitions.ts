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
import { conflict } from '../errors';
import { holdAmount } from '../ledger/postings';
import type { Attempt, AttemptStatus, Job, Node, Reason } from '../model';
import type { FinishOutcome, Transition } from './transition-types';
import { attemptsExhausted, endEffects, endedAttempt, replaceAttempt, retriesUsed, retryAfter } from './attempt-end';
import { cancelGang, finishGang, forceCancelGang, isGang, loseGang, startGang, timeOutGang } from './gang';

export { attemptCharge } from './attempt-end';

export type { Effect, FinishOutcome, Transition } from './transition-types';

const isFinal = (j: Job) => ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(j.status);

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
export function place(job: Job, node: Pick<Node, 'id' | 'pricePerGpuHour'> & Partial<Pick<Node, 'providerId'>>, attemptId: string, now: number): Transition {
  if (job.status !== 'QUEUED') throw conflict(`job is ${job.status}, not QUEUED`);
  if (job.held) throw conflict('job waits for its dependencies');
  if (isGang(job)) throw conflict('a gang is placed on all its nodes at once (placeGang)');
  const attempt: Attempt = {
    id: attemptId,
    n: job.attempts.length,
    nodeId: node.id,
    status: 'ASSIGNED',
    assignedAt: now,
    pricePerGpuHour: node.pricePerGpuHour,
    ...(node.providerId ? { providerId: node.providerId } : {}),
    // a checker's canary (pinned) is a probe, not a purchase: it holds and pays nothing
    hold: job.pinNodeId ? 0 : holdAmount(node.pricePerGpuHour, job.resources.gpus, job.maxDurationSeconds),
  };
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
export function start(job: Job, attemptId: string, now: number): Transition {
  if (isGang(job)) return startGang(job, attemptId, now);
  const a = liveAttempt(job, attemptId);
  if (job.status !== 'ASSIGNED' || a.status !== 'ASSIGNED') throw conflict(`attempt ${attemptId} already started`);
  const running: Attempt = { ...a, status: 'RUNNING', startedAt: now };
  return {
    job: { ...job, status: 'RUNNING', startedAt: job.startedAt ?? now, attempts: replaceAttempt(job, running), version: job.version + 1 },
    effects: [],
  };
}

/** The agent reports the end of the live attempt. */
export function finish(job: Job, attemptId: string, r: { exitCode: number | null; outcome: FinishOutcome; reason?: Reason }, now: number): Transition {
  if (isGang(job)) return finishGang(job, attemptId, r, now);
  const a = liveAttempt(job, attemptId);
  const exitCode = r.exitCode ?? undefined;
  // the node lost the attempt (agent restart, capacity mismatch): an infrastructure failure
  if (r.outcome === 'lost') return lose(job, attemptId, r.reason ?? 'NODE_LOST', now);
  if (r.outcome === 'cancelled' && !job.cancelRequested) {
    // the agent gave the attempt back (drain): not the job's fault, so it goes back to the queue
    return lose(job, attemptId, 'NODE_DRAINED', now);
  }
  const [status, reason]: [Job['status'], Reason | undefined] =
    r.outcome === 'cancelled'
      ? ['CANCELLED', job.cancelReason ?? 'CANCELLED_BY_USER']
      : r.outcome === 'timed_out'
        ? ['TIMED_OUT', 'TIMED_OUT']
        : r.outcome === 'error'
          ? ['FAILED', r.reason ?? 'RUNTIME_ERROR']
          : exitCode === 0
            ? ['SUCCEEDED', undefined]
            : ['FAILED', 'EXIT_NONZERO'];
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
export function lose(job: Job, attemptId: string, reason: Reason, now: number): Transition {
  if (isGang(job)) return loseGang(job, attemptId, reason, now);
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
export function cancel(job: Job, now: number): Transition {
  if (job.status === 'CANCELLED') return { job, effects: [] };
  if (isFinal(job)) throw conflict(`job already ended ${job.status}`);
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
export function expire(job: Job, now: number): Transition {
  if (job.status !== 'QUEUED') throw conflict(`job is ${job.status}, not QUEUED`);
  const { pendingReason: _p, notBefore: _n, ...rest } = job;
  return { job: { ...rest, status: 'FAILED', reason: 'QUEUE_TTL_EXPIRED', finishedAt: now, version: job.version + 1 }, effects: [] };
}

/** The reaper's backstop when a cancelled attempt's agent never reports back. */
export function forceCancel(job: Job, now: number): Transition {
  if (isGang(job)) return forceCancelGang(job, now);
  const a = liveAttempt(job, job.liveAttemptId!);
  const why = job.cancelReason ?? 'CANCELLED_BY_USER';
  const ended = endAttempt(job, a, 'CANCELLED', why, now);
  return { job: { ...ended, status: 'CANCELLED', reason: why, finishedAt: now }, effects: endEffects(job, a) };
}

/** The reaper's backstop for maxDurationSeconds when the agent did not enforce it. */
export function timeOut(job: Job, now: number): Transition {
  if (isGang(job)) return timeOutGang(job, now);
  const a = liveAttempt(job, job.liveAttemptId!);
  const ended = endAttempt(job, a, 'TIMED_OUT', 'TIMED_OUT', now);
  return { job: { ...ended, status: 'TIMED_OUT', reason: 'TIMED_OUT', finishedAt: now }, effects: endEffects(job, a) };
}
