import { describe, expect, it } from 'vitest';
import { domainErrorCode } from './helpers';
import { cancel, expire, finish, forceCancel, lose, place, start, timeOut, transition, type JobEvent } from '../../functions/domain/job/transitions';
import type { Job } from '../../functions/domain/model';

const node = { id: 'n1', pricePerGpuHour: 3_600_000 };
const queued = (over: Partial<Job> = {}): Job => ({
  id: 'j1',
  accountId: 'a1',
  status: 'QUEUED',
  command: ['true'],
  env: {},
  resources: { gpus: 2, nodes: 1 },
  maxDurationSeconds: 60,
  maxAttempts: 2,
  priority: 0,
  attempts: [],
  createdAt: 1,
  queuedAt: 1,
  queueTtlSeconds: 100,
  version: 0,
  ...over,
});
const assigned = () => place(queued(), node, 'at1', 10).job;
const running = () => start(assigned(), 'at1', 20).job;

const conflictOf = domainErrorCode;

describe('job transitions', () => {
  it('places a queued job with a new attempt, claiming GPUs and dispatching', () => {
    const t = place(queued({ pendingReason: 'x' }), node, 'at1', 10);
    expect(t.job).toMatchObject({ status: 'ASSIGNED', nodeId: 'n1', liveAttemptId: 'at1', version: 1 });
    expect(t.job.pendingReason).toBeUndefined();
    // escrow: price × 2 GPUs × maxDurationSeconds, held in the same transaction as the claim
    const hold = 2 * 3_600_000 * (queued().maxDurationSeconds / 3600);
    expect(t.job.attempts).toEqual([{ id: 'at1', n: 0, nodeId: 'n1', status: 'ASSIGNED', assignedAt: 10, pricePerGpuHour: 3_600_000, hold }]);
    expect(t.effects).toEqual([
      { kind: 'claimGpus', nodeId: 'n1', gpus: 2 },
      { kind: 'hold', attempt: 0 },
      { kind: 'dispatch', nodeId: 'n1', attemptId: 'at1' },
    ]);
  });

  it('starts only the live attempt, once', () => {
    const t = start(assigned(), 'at1', 20);
    expect(t.job.status).toBe('RUNNING');
    expect(t.job.attempts[0]).toMatchObject({ status: 'RUNNING', startedAt: 20 });
    expect(conflictOf(() => start(t.job, 'at1', 21))).toBe('conflict');
    expect(conflictOf(() => start(assigned(), 'other', 21))).toBe('conflict');
  });

  it.each([
    [{ exitCode: 0, outcome: 'exited' as const }, 'SUCCEEDED', undefined],
    [{ exitCode: 3, outcome: 'exited' as const }, 'FAILED', 'EXIT_NONZERO'],
    [{ exitCode: null, outcome: 'timed_out' as const }, 'TIMED_OUT', 'TIMED_OUT'],
    [{ exitCode: null, outcome: 'error' as const }, 'FAILED', 'RUNTIME_ERROR'],
  ])('finish %o → %s', (r, status, reason) => {
    const t = finish(running(), 'at1', r, 30);
    expect(t.job).toMatchObject({ status, finishedAt: 30 });
    expect(t.job.reason).toBe(reason);
    expect(t.job.liveAttemptId).toBeUndefined();
    expect(t.effects).toEqual([{ kind: 'releaseGpus', nodeId: 'n1', gpus: 2 }, { kind: 'settle', attempt: 0 }]);
  });

  it('re-queues a lost attempt while attempts remain, then fails with MAX_ATTEMPTS', () => {
    const first = lose(running(), 'at1', 'NODE_LOST', 40);
    expect(first.job).toMatchObject({ status: 'QUEUED' });
    expect(first.job.attempts[0]).toMatchObject({ status: 'LOST', reason: 'NODE_LOST', finishedAt: 40 });
    expect(first.effects).toEqual([{ kind: 'releaseGpus', nodeId: 'n1', gpus: 2 }, { kind: 'settle', attempt: 0 }]);
    const again = start(place(first.job, { id: 'n2', pricePerGpuHour: 1 }, 'at2', 50).job, 'at2', 51).job;
    const second = lose(again, 'at2', 'NODE_LOST', 60);
    expect(second.job).toMatchObject({ status: 'FAILED', reason: 'MAX_ATTEMPTS' });
  });

  it('treats an agent giving work back without a cancel as a lost attempt (drain)', () => {
    expect(finish(running(), 'at1', { exitCode: null, outcome: 'cancelled' }, 30).job.status).toBe('QUEUED');
  });

  it('cancels queued and assigned jobs at once, running ones through the agent', () => {
    expect(cancel(queued(), 5).job).toMatchObject({ status: 'CANCELLED', reason: 'CANCELLED_BY_USER' });
    const a = cancel(assigned(), 15);
    expect(a.job.status).toBe('CANCELLED');
    expect(a.effects.map((e) => e.kind)).toEqual(['releaseGpus', 'settle', 'sendCancel']);
    const r = cancel(running(), 25);
    expect(r.job).toMatchObject({ status: 'RUNNING', cancelRequested: 25 });
    expect(r.effects).toEqual([{ kind: 'sendCancel', nodeId: 'n1', attemptId: 'at1' }]);
    expect(finish(r.job, 'at1', { exitCode: null, outcome: 'cancelled' }, 30).job.status).toBe('CANCELLED');
    expect(forceCancel(r.job, 99).job.status).toBe('CANCELLED');
  });

  it('allows cancelling a cancelled job and refuses other final states', () => {
    const c = cancel(queued(), 5).job;
    expect(cancel(c, 6)).toEqual({ job: c, effects: [] });
    const done = finish(running(), 'at1', { exitCode: 0, outcome: 'exited' }, 30).job;
    expect(conflictOf(() => cancel(done, 31))).toBe('conflict');
  });

  it('times out a running job (reaper backstop)', () => {
    expect(timeOut(running(), 99).job).toMatchObject({ status: 'TIMED_OUT', reason: 'TIMED_OUT' });
  });

  it('fences reports for an attempt that is no longer live', () => {
    const requeued = lose(running(), 'at1', 'NODE_LOST', 40).job;
    expect(conflictOf(() => finish(requeued, 'at1', { exitCode: 0, outcome: 'exited' }, 41))).toBe('conflict');
  });

  it('retries exit codes the job asked for, with a doubling backoff, then fails', () => {
    const retrying = (): Job => queued({ retry: { onExitCodes: [3], max: 2, backoffSeconds: 10 } });
    const run = (j: Job, id: string, t: number) => start(place(j, node, id, t).job, id, t + 1).job;
    const first = finish(run(retrying(), 'a1', 10), 'a1', { exitCode: 3, outcome: 'exited' }, 20);
    expect(first.job).toMatchObject({ status: 'QUEUED', notBefore: 10_020, queuedAt: 20 });
    expect(first.job.attempts[0]).toMatchObject({ status: 'FAILED', reason: 'EXIT_NONZERO', exitCode: 3 });
    expect(() => place(first.job, node, 'early', 30)).toThrow(/backoff/);
    const second = finish(run(first.job, 'a2', 10_020), 'a2', { exitCode: 3, outcome: 'exited' }, 10_030);
    expect(second.job).toMatchObject({ status: 'QUEUED', notBefore: 30_030 });
    const third = finish(run(second.job, 'a3', 30_030), 'a3', { exitCode: 3, outcome: 'exited' }, 30_040);
    expect(third.job).toMatchObject({ status: 'FAILED', reason: 'EXIT_NONZERO', exitCode: 3 });
    // another exit code is not retried
    expect(finish(run(retrying(), 'b1', 10), 'b1', { exitCode: 4, outcome: 'exited' }, 20).job.status).toBe('FAILED');
    // retries do not use up the attempts for infrastructure failures (maxAttempts 2)
    expect(lose(run(first.job, 'c2', 10_020), 'c2', 'NODE_LOST', 10_030).job.status).toBe('QUEUED');
  });

  it('expires a job that waited past its queue TTL', () => {
    expect(expire(queued(), 500).job).toMatchObject({ status: 'FAILED', reason: 'QUEUE_TTL_EXPIRED', finishedAt: 500 });
    expect(conflictOf(() => expire(running(), 500))).toBe('conflict');
  });
});

describe('one transition(job, event) for single jobs and gangs', () => {
  const ended = () => finish(running(), 'at1', { exitCode: 0, outcome: 'exited' }, 30).job;
  const events: JobEvent[] = [
    { kind: 'place', node, attemptId: 'x' },
    { kind: 'start', attemptId: 'at1' },
    { kind: 'finish', attemptId: 'at1', exitCode: 0, outcome: 'exited' },
    { kind: 'lose', attemptId: 'at1', reason: 'NODE_LOST' },
    { kind: 'cancel' },
    { kind: 'expire' },
    { kind: 'forceCancel' },
    { kind: 'timeOut' },
  ];

  it.each(events.map((e) => [e.kind, e] as const))('an ended job takes no %s: one guard, a conflict, the job unchanged', (_k, e) => {
    const job = ended();
    expect(job.status).toBe('SUCCEEDED');
    expect(conflictOf(() => transition(job, e, 40))).toBe('conflict');
  });

  it('a cancelled job takes a repeated cancel as a no-op (idempotent DELETE)', () => {
    const c = cancel(queued(), 5).job;
    expect(transition(c, { kind: 'cancel' }, 6)).toEqual({ job: c, effects: [] });
  });

  it('a gang is refused a single placement, and its events reach the gang rules through the same entry', () => {
    const gang = queued({ resources: { gpus: 1, nodes: 2 } });
    expect(conflictOf(() => transition(gang, { kind: 'place', node, attemptId: 'x' }, 10))).toBe('conflict');
    const placed = transition(gang, { kind: 'placeGang', nodes: [{ ...node, address: '10.0.0.1' }, { id: 'n2', pricePerGpuHour: 1_800_000, address: '10.0.0.2' }], attemptIds: ['r0', 'r1'] }, 10).job;
    // each rank's hold from the one attempt builder: its own node's price
    expect(placed.attempts.map((a) => [a.rank, a.hold])).toEqual([[0, 3_600_000 / 60], [1, 1_800_000 / 60]]);
    const one = transition(placed, { kind: 'start', attemptId: 'r0' }, 11).job;
    expect(one.status).toBe('ASSIGNED');
    expect(transition(one, { kind: 'start', attemptId: 'r1' }, 12).job.status).toBe('RUNNING');
  });

  it('maps an end the same way for a single job and a gang rank that fails it', () => {
    const single = finish(running(), 'at1', { exitCode: 3, outcome: 'exited' }, 30).job;
    const gang = queued({ resources: { gpus: 1, nodes: 2 } });
    let g = transition(gang, { kind: 'placeGang', nodes: [{ ...node, address: 'a' }, { id: 'n2', pricePerGpuHour: 1, address: 'b' }], attemptIds: ['r0', 'r1'] }, 10).job;
    g = transition(transition(g, { kind: 'start', attemptId: 'r0' }, 11).job, { kind: 'start', attemptId: 'r1' }, 11).job;
    const gangEnd = transition(g, { kind: 'finish', attemptId: 'r1', exitCode: 3, outcome: 'exited' }, 30).job;
    expect([single.status, single.reason]).toEqual(['FAILED', 'EXIT_NONZERO']);
    expect([gangEnd.status, gangEnd.reason]).toEqual([single.status, single.reason]);
  });
});
