// Replicated verification's one job transition: when the replicas of a group disagree, the job the
// consumer submitted (the group's id) ends FAILED with VERIFICATION_MISMATCH, whatever it printed itself.
// Only from SUCCEEDED: a job that failed, timed out or was cancelled on its own keeps that outcome. No
// effects: its attempts are ended and settled already (each replica is billed for the run it made); the
// store writes it under `version = <read version>` like any transition.
import { conflict } from '../errors';
import type { Job } from '../model';
import type { Transition } from './transitions';

export function failVerification(job: Job, now: number): Transition {
  if (job.status !== 'SUCCEEDED') throw conflict(`job is ${job.status}, not SUCCEEDED`);
  return { job: { ...job, status: 'FAILED', reason: 'VERIFICATION_MISMATCH', finishedAt: job.finishedAt ?? now, version: job.version + 1 }, effects: [] };
}
