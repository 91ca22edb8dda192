// The image pull as a phase of a RUNNING attempt (functions/domain/job/pull.ts): what the consumer sees,
// what is metered, and whose fault a failed pull is.
import { describe, expect, it } from 'vitest';
import { meteredSince, pullOutcome, withPull } from '../../functions/domain/job/pull';
import { attemptCharge, endedAttempt } from '../../functions/domain/job/attempt-end';
import type { Attempt } from '../../functions/domain/model';

const T0 = 1_000_000;
const running: Attempt = { id: 'a1', n: 0, nodeId: 'n1', status: 'RUNNING', assignedAt: T0 - 100, startedAt: T0, pricePerGpuHour: 3_600_000, hold: 3_600_000 };
const job = { resources: { gpus: 1, nodes: 1 } };
const digest = `sha256:${'c'.repeat(64)}`;

describe('pull phase', () => {
  it('PULLING, then PULLED with its duration and digest; metering starts when the pull ends', () => {
    const pulling = withPull(running, { phase: 'PULLING' }, T0 + 50)!;
    expect(pulling).toMatchObject({ phase: 'PULLING', pullStartedAt: T0 + 50 });
    // nothing is metered while the node pulls
    expect(meteredSince(pulling)).toBeUndefined();
    expect(attemptCharge(job, pulling, 'RUNNING', T0 + 10_000)).toBe(0);
    const pulled = withPull(pulling, { phase: 'PULLED', seconds: 2.5, imageDigest: digest }, T0 + 3_000)!;
    expect(pulled.phase).toBeUndefined();
    expect(pulled).toMatchObject({ pullSeconds: 2.5, imageDigest: digest });
    expect(meteredSince(pulled)).toBe(T0 + 2_500);
    // 1 GPU at 3,600,000 per hour = 1,000 per second: 10 s after the start, 7.5 s were metered
    expect(attemptCharge(job, pulled, 'SUCCEEDED', T0 + 10_000)).toBe(7_500);
  });

  it('never moves back, and a pull longer than the attempt has run is cut to that', () => {
    const pulled = withPull(running, { phase: 'PULLED', seconds: 99 }, T0 + 1_000)!;
    expect(pulled.pullSeconds).toBe(1);
    expect(withPull(pulled, { phase: 'PULLING' }, T0 + 2_000)).toBeUndefined();
    expect(withPull(pulled, { phase: 'PULLED', seconds: 0.5 }, T0 + 2_000)).toBeUndefined();
    expect(withPull({ ...running, status: 'ASSIGNED' }, { phase: 'PULLING' }, T0)).toBeUndefined();
  });

  it('an image the node held: the digest, no pull time, metered from the start', () => {
    const held = withPull(running, { phase: 'PULLED', imageDigest: digest }, T0 + 100)!;
    expect(held.pullSeconds).toBeUndefined();
    expect(meteredSince(held)).toBe(T0);
  });

  it('a failed pull keeps the registry words and charges nothing; an attempt ended while pulling neither', () => {
    const failed = withPull(withPull(running, { phase: 'PULLING' }, T0)!, { phase: 'FAILED', failure: 'IMAGE_NOT_FOUND', message: 'manifest unknown' }, T0 + 200)!;
    expect(failed).toMatchObject({ message: 'manifest unknown' });
    expect(failed.phase).toBeUndefined();
    expect(endedAttempt(job, failed, 'FAILED', 'IMAGE_NOT_FOUND', T0 + 300).charged).toBe(0);
    const cut = endedAttempt(job, withPull(running, { phase: 'PULLING' }, T0)!, 'CANCELLED', 'CANCELLED_BY_USER', T0 + 60_000);
    expect(cut.phase).toBeUndefined();
    expect(cut.charged).toBe(0);
  });

  it("the failure's type decides the fault, whatever outcome the agent sent; a cancel stays a cancel", () => {
    const f = (failure: 'IMAGE_NOT_FOUND' | 'REGISTRY_UNAUTHORIZED' | 'REGISTRY_UNREACHABLE' | 'NO_DISK_SPACE') => ({ phase: 'FAILED' as const, failure, message: 'x' });
    expect(pullOutcome(f('IMAGE_NOT_FOUND'), 'lost')).toEqual({ outcome: 'error', reason: 'IMAGE_NOT_FOUND' });
    expect(pullOutcome(f('REGISTRY_UNAUTHORIZED'), 'error')).toEqual({ outcome: 'error', reason: 'REGISTRY_UNAUTHORIZED' });
    expect(pullOutcome(f('REGISTRY_UNREACHABLE'), 'error')).toEqual({ outcome: 'lost', reason: 'REGISTRY_UNREACHABLE' });
    expect(pullOutcome(f('NO_DISK_SPACE'), 'exited')).toEqual({ outcome: 'lost', reason: 'NO_DISK_SPACE' });
    expect(pullOutcome(f('IMAGE_NOT_FOUND'), 'cancelled')).toEqual({ outcome: 'cancelled' });
    expect(pullOutcome({ phase: 'PULLED' }, 'exited')).toEqual({ outcome: 'exited' });
  });
});
