// When a live job must have moved on. The reaper reads jobs whose deadline passed (a sparse index
// sorted by it), so every rule with a clock lives here in one place.
import type { Job } from '../model';
import { renewAt } from './renewal';

export interface DeadlineConfig {
  /** ms an ASSIGNED attempt may wait for the agent's start before it is re-placed */
  dispatchTimeoutMs: number;
  /** ms past maxDurationSeconds before the reaper ends a job the agent did not stop */
  timeoutGraceMs: number;
  /** ms a cancel may take before the reaper ends the job itself */
  cancelGraceMs: number;
}

export const DEFAULT_DEADLINES: DeadlineConfig = { dispatchTimeoutMs: 15_000, timeoutGraceMs: 30_000, cancelGraceMs: 30_000 };

/** `renew`: a service replica's billing period is about to end (renewal.ts); a replica never times out */
export type DeadlineKind = 'dispatch' | 'duration' | 'cancel' | 'queueTtl' | 'renew';

export function jobDeadline(job: Job, cfg: DeadlineConfig): { at: number; kind: DeadlineKind } | undefined {
  // a held job is not in the queue yet: its TTL counts from its release (dependencies.ts)
  if (job.status === 'QUEUED' && job.held) return undefined;
  if (job.status === 'QUEUED') return { at: job.queuedAt + job.queueTtlSeconds * 1000, kind: 'queueTtl' };
  const a = job.attempts.find((x) => x.id === job.liveAttemptId);
  if (!a) return undefined;
  if (job.cancelRequested) return { at: job.cancelRequested + cfg.cancelGraceMs, kind: 'cancel' };
  if (job.status === 'ASSIGNED') return { at: a.assignedAt + cfg.dispatchTimeoutMs, kind: 'dispatch' };
  if (job.status === 'RUNNING' && job.service) return { at: renewAt(job, a), kind: 'renew' };
  if (job.status === 'RUNNING') return { at: (a.startedAt ?? a.assignedAt) + job.maxDurationSeconds * 1000 + cfg.timeoutGraceMs, kind: 'duration' };
  return undefined;
}
