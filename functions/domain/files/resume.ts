// What a checkpoint saved a re-placed job (docs/data.md, Checkpoints). When an attempt starts with the
// job's last checkpoint to restore, it records which checkpoint that was and how much run time it holds:
// the seconds the attempt that wrote it had run (metered: an image pull is not work) up to the save, plus
// what that attempt had itself resumed from. That is the work the new attempt does not do again.
import type { Attempt, Job } from '../model';
import { meteredSince } from '../job/pull';

export interface ResumedFrom {
  /** the attempt that saved the checkpoint, and its position */
  attemptId: string;
  attemptN: number;
  /** the checkpoint's sequence number within that attempt, and when it was committed */
  seq: number;
  checkpointAt: number;
  /** seconds of run time the checkpoint holds, across every attempt it continues */
  savedSeconds: number;
}

/** an attempt as the job item holds it once it has started from a checkpoint */
export type ResumingAttempt = Attempt & { resumedFrom?: ResumedFrom };

/** The checkpoint an attempt starting now is handed, with what it saved; undefined when there is none to restore. */
export function resumeOf(job: Job, attemptId: string): ResumedFrom | undefined {
  const last = job.lastCheckpoint;
  if (!job.checkpoint || !last || last.attemptId === attemptId) return undefined;
  const writer = job.attempts.find((a) => a.id === last.attemptId) as ResumingAttempt | undefined;
  const ranFrom = writer && meteredSince(writer);
  const ownMs = ranFrom === undefined ? 0 : Math.max(0, last.at - ranFrom);
  const before = writer?.resumedFrom?.savedSeconds ?? 0;
  return { attemptId: last.attemptId, attemptN: last.attemptN, seq: last.seq, checkpointAt: last.at, savedSeconds: Math.round(before + ownMs / 1000) };
}

/** The job with `resumedFrom` on the attempt that starts now (unchanged when it restores nothing). */
export function withResume(job: Job, attemptId: string): Job {
  const from = resumeOf(job, attemptId);
  if (!from) return job;
  return { ...job, attempts: job.attempts.map((a) => (a.id === attemptId ? ({ ...a, resumedFrom: from } as ResumingAttempt) : a)) };
}
