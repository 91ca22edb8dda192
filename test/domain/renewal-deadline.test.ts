// A service replica's billing period as pure rules (domain/job/renewal.ts, deadlines.ts): the 'renew'
// deadline replaces 'duration' for a RUNNING replica, a renewal is refused before it is due, and a period
// is metered from its own start (and never while the image pulls).
import { describe, expect, it } from 'vitest';
import { attemptCharge } from '../../functions/domain/job/attempt-end';
import { DEFAULT_DEADLINES, jobDeadline } from '../../functions/domain/job/deadlines';
import { endForCredits, renew, renewalLeadMs } from '../../functions/domain/job/renewal';
import { holdAmount, meteredCharge } from '../../functions/domain/ledger/postings';
import type { Attempt, Job } from '../../functions/domain/model';
import { domainErrorCode } from './helpers';

const T0 = 1_000_000;
const PRICE = 3_600_000;
const attempt = (o: Partial<Attempt> = {}): Attempt => ({ id: 'a0', n: 0, nodeId: 'n1', status: 'RUNNING', assignedAt: T0 - 1000, startedAt: T0, pricePerGpuHour: PRICE, providerId: 'p', hold: holdAmount(PRICE, 1, 60), ...o });
const replica = (a: Attempt = attempt(), o: Partial<Job> = {}): Job => ({
  id: 'svc-s1', accountId: 'c', status: 'RUNNING', command: ['serve'], env: {}, resources: { gpus: 1, nodes: 1 }, maxDurationSeconds: 60, maxAttempts: 100,
  priority: 0, queueTtlSeconds: 86400, attempts: [a], liveAttemptId: a.id, nodeId: a.nodeId, createdAt: T0, queuedAt: T0, version: 3,
  service: { id: 'svc', generation: 1, port: 8000, readinessPath: '/' }, ...o,
});

describe('the billing period of a service replica', () => {
  it('is renewed min(10%, 60 s) before it ends, never timed out; a plain job keeps its duration deadline', () => {
    expect(renewalLeadMs(60)).toBe(6_000);
    expect(renewalLeadMs(3600)).toBe(60_000);
    expect(jobDeadline(replica(), DEFAULT_DEADLINES)).toEqual({ kind: 'renew', at: T0 + 54_000 });
    expect(jobDeadline(replica(attempt({ segment: 2, segmentStartedAt: T0 + 500_000 })), DEFAULT_DEADLINES)).toEqual({ kind: 'renew', at: T0 + 554_000 });
    // a cancel under way keeps its own deadline; a plain job times out as before
    expect(jobDeadline(replica(attempt(), { cancelRequested: T0 + 5 }), DEFAULT_DEADLINES)?.kind).toBe('cancel');
    const { service: _s, ...plain } = replica();
    expect(jobDeadline(plain, DEFAULT_DEADLINES)).toEqual({ kind: 'duration', at: T0 + 60_000 + DEFAULT_DEADLINES.timeoutGraceMs });
  });

  it('settles the period and holds the next, only when due, only for a running replica', () => {
    expect(domainErrorCode(() => renew(replica(), T0 + 53_999))).toBe('conflict');
    const { service: _s, ...plain } = replica();
    expect(domainErrorCode(() => renew(plain, T0 + 54_000))).toBe('conflict');
    expect(domainErrorCode(() => renew(replica(attempt(), { cancelRequested: T0 }), T0 + 54_000))).toBe('conflict');
    const t = renew(replica(), T0 + 54_000);
    expect(t.effects).toEqual([{ kind: 'renew', attempt: 0, segment: 0, held: holdAmount(PRICE, 1, 60), charged: meteredCharge(PRICE, 1, 54_000) }]);
    expect(t.job.attempts[0]).toMatchObject({ segment: 1, segmentStartedAt: T0 + 54_000, hold: holdAmount(PRICE, 1, 60), segmentsCharged: 54_000 });
    expect(t.job.version).toBe(4);
    // the renewed job is not due again until its new period is
    expect(domainErrorCode(() => renew(t.job, T0 + 54_001))).toBe('conflict');
  });

  it('meters a period from its own start, and not while the image pulls', () => {
    const job = replica();
    // the end after a renewal: only the time since the period began
    expect(attemptCharge(job, attempt({ segment: 1, segmentStartedAt: T0 + 54_000 }), 'SUCCEEDED', T0 + 64_000)).toBe(meteredCharge(PRICE, 1, 10_000));
    // a pull that ended after the period began: metered from the pull's end
    expect(attemptCharge(job, attempt({ segment: 1, segmentStartedAt: T0 + 54_000, pullSeconds: 60 }), 'SUCCEEDED', T0 + 64_000)).toBe(meteredCharge(PRICE, 1, 4_000));
    // still pulling when the period renews: nothing to charge for it
    expect(renew(replica(attempt({ phase: 'PULLING', pullStartedAt: T0 })), T0 + 54_000).effects[0]).toMatchObject({ charged: 0 });
  });

  it('ends CANCELLED/INSUFFICIENT_CREDITS: the period charged to now, GPUs back, the agent told to stop', () => {
    const t = endForCredits(replica(), T0 + 54_000);
    expect(t.job).toMatchObject({ status: 'CANCELLED', reason: 'INSUFFICIENT_CREDITS', finishedAt: T0 + 54_000 });
    expect(t.job.liveAttemptId).toBeUndefined();
    expect(t.job.attempts[0]).toMatchObject({ status: 'CANCELLED', reason: 'INSUFFICIENT_CREDITS', charged: meteredCharge(PRICE, 1, 54_000) });
    expect(t.effects).toEqual([
      { kind: 'releaseGpus', nodeId: 'n1', gpus: 1 },
      { kind: 'settle', attempt: 0 },
      { kind: 'sendCancel', nodeId: 'n1', attemptId: 'a0' },
    ]);
  });
});
