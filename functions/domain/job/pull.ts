// The image pull as a phase of a RUNNING attempt (docs/agent-hosts.md, "Pulls"). The node reports it on
// its log requests and again on finish (PullReportSchema); the control plane records it on the attempt so
// the consumer sees PULLING, then how long the pull took and the digest that ran. Pull time is not metered:
// the consumer pays for GPU time its container had, and a node that already holds the image is paid sooner.
// A failed pull's type decides whose fault it is: a registry that has no such image or refuses the
// credentials is the consumer's (the job fails, not placed again); an unreachable registry or a full disk is
// the node's (the attempt is lost, placed again elsewhere, charged nothing).
import type { FinishOutcome } from './transition-types';
import type { PullFailure, PullReport } from '../agent-protocol';
import type { Attempt, Job, Reason } from '../model';

/** the consumer's to fix: retrying on another node would fail the same way */
export const CONSUMER_PULL_FAILURES: ReadonlySet<PullFailure> = new Set(['IMAGE_NOT_FOUND', 'REGISTRY_UNAUTHORIZED']);
const MAX_MESSAGE = 512;

/**
 * The attempt with the node's report applied, or undefined when it changes nothing (already recorded, or
 * the attempt is not RUNNING). A report never moves the phase back: a late PULLING after PULLED is ignored.
 */
export function withPull(a: Attempt, pull: PullReport, now: number): Attempt | undefined {
  if (a.status !== 'RUNNING') return undefined;
  const settled = a.phase === undefined && (a.pullSeconds !== undefined || a.imageDigest !== undefined || a.message !== undefined);
  if (settled) return undefined;
  if (pull.phase === 'PULLING') return a.phase === 'PULLING' ? undefined : { ...a, phase: 'PULLING', pullStartedAt: now };
  const { phase: _p, ...rest } = a;
  if (pull.phase === 'FAILED') return { ...rest, pullStartedAt: a.pullStartedAt ?? a.startedAt, message: pull.message.slice(0, MAX_MESSAGE) };
  // the pull began after the start, so it cannot have taken longer than the attempt has been RUNNING
  const sinceStart = a.startedAt === undefined ? 0 : Math.max(0, (now - a.startedAt) / 1000);
  return {
    ...rest,
    ...(pull.seconds === undefined ? {} : { pullSeconds: Math.round(Math.min(pull.seconds, sinceStart) * 1000) / 1000 }),
    ...(pull.imageDigest ? { imageDigest: pull.imageDigest } : {}),
  };
}

/** The job with the report applied to one of its attempts; the job itself when nothing changes. */
export function jobWithPull(job: Job, attemptId: string, pull: PullReport, now: number): Job {
  const a = job.attempts.find((x) => x.id === attemptId);
  const next = a && withPull(a, pull, now);
  return next ? { ...job, attempts: job.attempts.map((x) => (x.id === attemptId ? next : x)) } : job;
}

/**
 * When metering starts: at the end of the pull (the node's measure from the start), never while it pulls,
 * and never for an attempt whose pull began and did not finish (no container ran).
 */
export function meteredSince(a: Pick<Attempt, 'startedAt' | 'phase' | 'pullStartedAt' | 'pullSeconds'>): number | undefined {
  if (a.startedAt === undefined || a.phase === 'PULLING') return undefined;
  if (a.pullSeconds !== undefined) return a.startedAt + a.pullSeconds * 1000;
  return a.pullStartedAt === undefined ? a.startedAt : undefined;
}

/**
 * How a failed pull ends the attempt, whatever outcome the agent chose: the type decides the fault. A cancel
 * or a time limit that came first stays what it was.
 */
export function pullOutcome(pull: PullReport | undefined, outcome: FinishOutcome): { outcome: FinishOutcome; reason?: Reason } {
  if (pull?.phase !== 'FAILED' || outcome === 'cancelled' || outcome === 'timed_out') return { outcome };
  return { outcome: CONSUMER_PULL_FAILURES.has(pull.failure) ? 'error' : 'lost', reason: pull.failure };
}
