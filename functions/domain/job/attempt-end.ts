// What ending an attempt means, shared by single-node jobs (transitions.ts) and gangs (gang.ts): its
// metered charge, its effects (GPUs back, escrow settled) and the retry rules that count attempts.
import { meteredCharge } from '../ledger/postings';
import type { Attempt, AttemptStatus, Job, Reason } from '../model';
import { meteredSince } from './pull';
import type { Effect, FinishOutcome } from './transition-types';

/**
 * Metered GPU time from RUNNING (after the image pull: pull.ts) to the end, at the node's price, never more
 * than the hold. Attempts lost through the node's fault cost nothing (DESIGN: faults lose no credit).
 * A service replica's attempt is charged per billing period: from the start of the current one (its
 * renewal settled the time before it: renewal.ts), against the current period's hold.
 */
export function attemptCharge(job: Pick<Job, 'resources'>, a: Attempt, status: AttemptStatus, now: number): number {
  const metered = meteredSince(a);
  if (status === 'LOST' || metered === undefined || !a.hold) return 0;
  const since = Math.max(metered, a.segmentStartedAt ?? metered);
  return Math.min(a.hold, meteredCharge(a.pricePerGpuHour, job.resources.gpus, Math.max(0, now - since)));
}

/** The attempt as it ends: status, reason, exit code and (for attempts that held escrow) its charge. */
export function endedAttempt(job: Pick<Job, 'resources'>, a: Attempt, status: AttemptStatus, reason: Reason | undefined, now: number, exitCode?: number): Attempt {
  const charged = attemptCharge(job, a, status, now);
  // an attempt that ends while pulling ends the pull too (pullStartedAt without pullSeconds: no container ran)
  const { phase: _pulling, ...rest } = a;
  return { ...rest, status, reason, finishedAt: now, ...(exitCode === undefined ? {} : { exitCode }), ...(a.hold ? { charged } : {}) };
}

export function replaceAttempt(job: Job, attempt: Attempt): Attempt[] {
  return job.attempts.map((a) => (a.id === attempt.id ? attempt : a));
}

const release = (job: Job, a: Attempt): Effect => ({ kind: 'releaseGpus', nodeId: a.nodeId, gpus: job.resources.gpus });
const settle = (a: Attempt): Effect => ({ kind: 'settle', attempt: a.n });
/** Every attempt that ends gives its GPUs back and settles its escrow. */
export const endEffects = (job: Job, a: Attempt): Effect[] => [release(job, a), settle(a)];

/** Attempts that ended because the job's own command failed and were retried. */
export const retriesUsed = (job: Job) => job.attempts.filter((a) => a.status === 'FAILED' && a.reason === 'EXIT_NONZERO').length;

/** Placements so far: a gang places `resources.nodes` attempts at a time, a single-node job one. */
export const placements = (job: Job) => Math.ceil(job.attempts.length / Math.max(1, job.resources.nodes));

/** Whether a lost placement uses up the job's attempts (retries the consumer asked for do not count). */
export const attemptsExhausted = (job: Job) => placements(job) - retriesUsed(job) >= job.maxAttempts;

/** ms to wait before a retry, or undefined when the job does not retry this exit. Backoff doubles per retry. */
export function retryAfter(job: Job, outcome: FinishOutcome, exitCode: number | undefined): number | undefined {
  if (!job.retry || outcome !== 'exited' || exitCode === undefined || !job.retry.onExitCodes.includes(exitCode)) return undefined;
  const used = retriesUsed(job);
  if (used >= job.retry.max) return undefined;
  return job.retry.backoffSeconds * 1000 * 2 ** used;
}

/**
 * How a reported end maps to the job's status and reason (one table for single jobs and gangs): a cancel
 * ends CANCELLED with the cancel's reason, a timeout TIMED_OUT, a runtime error FAILED with its reason,
 * an exit 0 SUCCEEDED, any other exit FAILED (EXIT_NONZERO). A lost attempt is not an end: see lose().
 */
export function endStatus(r: { outcome: FinishOutcome; reason?: Reason }, exitCode: number | undefined, cancelReason?: Reason): ['SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT', Reason | undefined] {
  if (r.outcome === 'cancelled') return ['CANCELLED', cancelReason ?? 'CANCELLED_BY_USER'];
  if (r.outcome === 'timed_out') return ['TIMED_OUT', 'TIMED_OUT'];
  if (r.outcome === 'error') return ['FAILED', r.reason ?? 'RUNTIME_ERROR'];
  return exitCode === 0 ? ['SUCCEEDED', undefined] : ['FAILED', 'EXIT_NONZERO'];
}
