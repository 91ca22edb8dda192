// A service replica's billing period (docs/services.md, Money). A replica is a job whose maxDurationSeconds
// is its period: placement holds one period; shortly before it ends, the renewal settles the time metered
// in it (as an attempt's end would) and holds the next, in one conditional write of the job with both
// postings. The job's version decides between a renewal and an end racing it (finish, cancel, write-off):
// one applies, the other re-reads, so no period's time is settled twice. A renewal the consumer cannot
// cover ends the replica (endForCredits): the current period settled like any end, the agent told to stop.
import { conflict } from '../errors';
import type { Attempt, Job } from '../model';
import { attemptCharge, endEffects, endedAttempt, replaceAttempt } from './attempt-end';
import type { Transition } from './transition-types';
import { attemptHold } from './new-attempt';

/** How long before a period ends it is renewed: 10% of it, at most a minute (the reaper passes every 5 s). */
export const renewalLeadMs = (periodSeconds: number) => Math.min(periodSeconds * 100, 60_000);

/** When the attempt's current billing period began. */
export const segmentStart = (a: Pick<Attempt, 'segmentStartedAt' | 'startedAt' | 'assignedAt'>) => a.segmentStartedAt ?? a.startedAt ?? a.assignedAt;

/** When a RUNNING replica's attempt is due for renewal. */
export const renewAt = (job: Pick<Job, 'maxDurationSeconds'>, a: Attempt) => segmentStart(a) + job.maxDurationSeconds * 1000 - renewalLeadMs(job.maxDurationSeconds);

function liveReplicaAttempt(job: Job): Attempt {
  if (!job.service) throw conflict('only a service replica is renewed');
  if (job.status !== 'RUNNING') throw conflict(`job is ${job.status}, not RUNNING`);
  if (job.gang) throw conflict('a gang is not a service replica');
  const a = job.attempts.find((x) => x.id === job.liveAttemptId);
  if (!a || a.status !== 'RUNNING') throw conflict('no running attempt to renew');
  return a;
}

/**
 * Settles the live attempt's current period and holds the next. Refused (a conflict) before the period is
 * due, so a duplicate renewal (a reaper pass run twice, a retry after a lost reply) that reads the renewed
 * job does nothing; one that read the job before is refused by its version.
 */
export function renew(job: Job, now: number): Transition {
  const a = liveReplicaAttempt(job);
  if (job.cancelRequested) throw conflict('the replica is being cancelled');
  if (now < renewAt(job, a)) throw conflict('the billing period is not due for renewal');
  const segment = a.segment ?? 0;
  const held = a.hold ?? 0;
  const charged = attemptCharge(job, a, 'RUNNING', now);
  const next: Attempt = {
    ...a,
    segment: segment + 1,
    segmentStartedAt: now,
    hold: attemptHold(job, a.pricePerGpuHour),
    segmentsCharged: (a.segmentsCharged ?? 0) + charged,
    segmentsReleased: (a.segmentsReleased ?? 0) + held - charged,
  };
  return {
    job: { ...job, attempts: replaceAttempt(job, next), version: job.version + 1 },
    effects: [{ kind: 'renew', attempt: a.n, segment, held, charged }],
  };
}

/**
 * The consumer cannot cover the next period: the replica ends CANCELLED (INSUFFICIENT_CREDITS) now, charged
 * the current period's time to now, the rest of its hold released, its GPUs back, and the agent told to stop
 * (the cancel path of an ASSIGNED job: the agent's later report finds the attempt ended and changes nothing).
 */
export function endForCredits(job: Job, now: number): Transition {
  const a = liveReplicaAttempt(job);
  const ended = endedAttempt(job, a, 'CANCELLED', 'INSUFFICIENT_CREDITS', now);
  const { liveAttemptId: _l, cancelRequested: _c, ...rest } = job;
  return {
    job: { ...rest, attempts: replaceAttempt(job, ended), status: 'CANCELLED', reason: 'INSUFFICIENT_CREDITS', finishedAt: now, version: job.version + 1 },
    effects: [...endEffects(job, a), { kind: 'sendCancel', nodeId: a.nodeId, attemptId: a.id }],
  };
}
