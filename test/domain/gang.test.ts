// Gangs in the job state machine: placed, started, finished, lost and cancelled as a whole.
import { describe, expect, it } from 'vitest';
import { domainErrorCode } from './helpers';
import { gangPort, GANG_BASE_PORT, GANG_PORT_SPAN, isLiveAttempt, liveAttemptOn, liveRanks, placeGang } from '../../functions/domain/job/gang';
import { cancel, finish, forceCancel, lose, place, start, timeOut, type Effect } from '../../functions/domain/job/transitions';
import { nodeAddress, pickGang } from '../../functions/domain/matcher/gang';
import type { Job } from '../../functions/domain/model';

const nodes = [
  { id: 'n0', pricePerGpuHour: 3_600_000, providerId: 'p0', address: '10.0.0.1' },
  { id: 'n1', pricePerGpuHour: 7_200_000, providerId: 'p1', address: 'fd00::2' },
];
const queued = (over: Partial<Job> = {}): Job => ({
  id: 'g1',
  accountId: 'a1',
  status: 'QUEUED',
  command: ['torchrun', 'train.py'],
  env: {},
  resources: { gpus: 2, nodes: 2 },
  maxDurationSeconds: 3600,
  maxAttempts: 2,
  priority: 0,
  attempts: [],
  createdAt: 1,
  queuedAt: 1,
  queueTtlSeconds: 100,
  version: 0,
  ...over,
});
const assigned = (over: Partial<Job> = {}) => placeGang(queued(over), nodes, ['r0', 'r1'], 10).job;
const running = () => start(start(assigned(), 'r0', 20).job, 'r1', 21).job;
const kinds = (effects: Effect[]) => effects.map((e) => `${e.kind}:${'nodeId' in e ? e.nodeId : e.attempt}`).sort();

const codeOf = domainErrorCode;

describe('gang placement', () => {
  it('places every rank at once: one attempt, claim, hold and dispatch per node', () => {
    const t = placeGang(queued({ pendingReason: 'x' }), nodes, ['r0', 'r1'], 10);
    const port = gangPort('g1', 0);
    expect(t.job).toMatchObject({ status: 'ASSIGNED', liveAttemptId: 'r0', nodeId: 'n0', version: 1 });
    expect(t.job.gang).toEqual({ attemptIds: ['r0', 'r1'], masterPort: port, peers: [`10.0.0.1:${port}`, `[fd00::2]:${port}`] });
    expect(t.job.attempts.map((a) => [a.id, a.n, a.rank, a.nodeId, a.hold])).toEqual([
      ['r0', 0, 0, 'n0', 2 * 3_600_000],
      ['r1', 1, 1, 'n1', 2 * 7_200_000],
    ]);
    expect(kinds(t.effects)).toEqual(['claimGpus:n0', 'claimGpus:n1', 'dispatch:n0', 'dispatch:n1', 'hold:0', 'hold:1']);
    expect(t.job.pendingReason).toBeUndefined();
  });

  it('refuses partial gangs, shared nodes, and the single-node place', () => {
    expect(() => placeGang(queued(), nodes.slice(0, 1), ['r0'], 10)).toThrow(/needs 2 nodes/);
    expect(() => placeGang(queued(), [nodes[0], nodes[0]], ['r0', 'r1'], 10)).toThrow(/distinct nodes/);
    expect(codeOf(() => place(queued(), nodes[0], 'x', 10))).toBe('conflict');
    expect(codeOf(() => placeGang(assigned(), nodes, ['r2', 'r3'], 11))).toBe('conflict');
  });

  it('picks a rendezvous port per placement in [29500, 31500)', () => {
    const ports = Array.from({ length: 200 }, (_, i) => gangPort(`job-${i}`, 0));
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(GANG_BASE_PORT);
    for (const p of ports) expect(p).toBeLessThan(GANG_BASE_PORT + GANG_PORT_SPAN);
    expect(new Set(ports).size).toBeGreaterThan(150);
    expect(gangPort('g1', 1)).not.toBe(gangPort('g1', 0));
  });
});

describe('gang lifecycle', () => {
  it('is RUNNING once every rank has started, not before', () => {
    const one = start(assigned(), 'r1', 20).job;
    expect(one.status).toBe('ASSIGNED');
    expect(one.attempts[1]).toMatchObject({ status: 'RUNNING', startedAt: 20 });
    const both = start(one, 'r0', 22).job;
    expect(both).toMatchObject({ status: 'RUNNING', startedAt: 22 });
    expect(codeOf(() => start(both, 'r0', 23))).toBe('conflict');
  });

  it('succeeds when every rank exits 0, releasing each rank as it ends', () => {
    const t0 = finish(running(), 'r0', { exitCode: 0, outcome: 'exited' }, 30);
    expect(t0.job.status).toBe('RUNNING');
    expect(t0.job).toMatchObject({ liveAttemptId: 'r1', nodeId: 'n1' });
    expect(kinds(t0.effects)).toEqual(['releaseGpus:n0', 'settle:0']);
    expect(isLiveAttempt(t0.job, 'r0')).toBe(false);
    expect(isLiveAttempt(t0.job, 'r1')).toBe(true);
    const t1 = finish(t0.job, 'r1', { exitCode: 0, outcome: 'exited' }, 31);
    expect(t1.job).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, finishedAt: 31 });
    expect(t1.job.liveAttemptId).toBeUndefined();
    expect(kinds(t1.effects)).toEqual(['releaseGpus:n1', 'settle:1']);
  });

  it('fails as a whole when one rank exits non-zero: the others are stopped and charged their time', () => {
    const t = finish(running(), 'r1', { exitCode: 3, outcome: 'exited' }, 20 + 3_600_000);
    expect(t.job).toMatchObject({ status: 'FAILED', reason: 'EXIT_NONZERO', exitCode: 3 });
    expect(t.job.attempts.map((a) => [a.status, a.reason])).toEqual([
      ['CANCELLED', 'GANG_ABORTED'],
      ['FAILED', 'EXIT_NONZERO'],
    ]);
    expect(t.job.attempts[0].charged).toBeGreaterThan(0);
    expect(kinds(t.effects)).toEqual(['releaseGpus:n0', 'releaseGpus:n1', 'sendCancel:n0', 'settle:0', 'settle:1']);
    expect(liveRanks(t.job)).toEqual([]);
  });

  it('retries the whole gang when the exit code is listed in retry', () => {
    const job = { ...running(), retry: { onExitCodes: [3], max: 1, backoffSeconds: 5 } };
    const t = finish(job, 'r0', { exitCode: 3, outcome: 'exited' }, 50);
    expect(t.job).toMatchObject({ status: 'QUEUED', notBefore: 5050 });
    expect(t.job.pendingReason).toMatch(/rank 0/);
    const again = placeGang(t.job, [nodes[1], nodes[0]], ['s0', 's1'], 6000).job;
    expect(again.attempts.map((a) => a.n)).toEqual([0, 1, 2, 3]);
    expect(again.gang!.attemptIds).toEqual(['s0', 's1']);
    expect(again.gang!.masterPort).toBe(gangPort('g1', 1));
  });

  it.each([
    ['node lost', (j: Job) => lose(j, 'r1', 'NODE_LOST', 40)],
    ['agent reports lost', (j: Job) => finish(j, 'r1', { exitCode: null, outcome: 'lost' }, 40)],
    ['agent drained', (j: Job) => finish(j, 'r1', { exitCode: null, outcome: 'cancelled' }, 40)],
  ])('re-queues the whole gang when a rank is lost (%s), charging nobody', (_n, f) => {
    const t = f(running());
    expect(t.job.status).toBe('QUEUED');
    expect(t.job.attempts.map((a) => [a.status, a.reason === 'GANG_ABORTED'])).toEqual([
      ['LOST', true],
      ['LOST', false],
    ]);
    expect(t.job.attempts.map((a) => a.charged)).toEqual([0, 0]);
    expect(kinds(t.effects)).toEqual(['releaseGpus:n0', 'releaseGpus:n1', 'sendCancel:n0', 'settle:0', 'settle:1']);
    expect(t.job.liveAttemptId).toBeUndefined();
  });

  it('counts a whole placement as one attempt against maxAttempts', () => {
    const first = lose(running(), 'r0', 'NODE_LOST', 40).job;
    const second = placeGang(first, nodes, ['s0', 's1'], 50).job;
    const t = lose(second, 's1', 'NODE_LOST', 60);
    expect(t.job).toMatchObject({ status: 'FAILED', reason: 'MAX_ATTEMPTS' });
  });

  it('blames the rank that never started for a dispatch timeout', () => {
    const half = start(assigned(), 'r0', 20).job;
    const t = lose(half, half.liveAttemptId!, 'DISPATCH_TIMEOUT', 30);
    expect(t.job.attempts.find((a) => a.reason === 'DISPATCH_TIMEOUT')!.id).toBe('r1');
  });

  it('ends every rank on a duration timeout or a forced cancel', () => {
    expect(timeOut(running(), 99).job).toMatchObject({ status: 'TIMED_OUT', reason: 'TIMED_OUT' });
    const f = forceCancel(running(), 99);
    expect(f.job.status).toBe('CANCELLED');
    expect(f.job.attempts.every((a) => a.status === 'CANCELLED')).toBe(true);
    expect(kinds(f.effects).filter((k) => k.startsWith('release'))).toHaveLength(2);
  });
});

describe('gang cancel', () => {
  it('ends a gang that has not started at once', () => {
    const t = cancel(assigned(), 30);
    expect(t.job.status).toBe('CANCELLED');
    expect(kinds(t.effects)).toEqual(['releaseGpus:n0', 'releaseGpus:n1', 'sendCancel:n0', 'sendCancel:n1', 'settle:0', 'settle:1']);
  });

  it('ends ranks not started at once and asks running ones to stop; the last report ends the job', () => {
    const half = start(assigned(), 'r1', 20).job;
    const t = cancel(half, 30);
    expect(t.job).toMatchObject({ status: 'RUNNING', cancelRequested: 30, liveAttemptId: 'r1' });
    expect(t.job.attempts[0].status).toBe('CANCELLED');
    expect(kinds(t.effects)).toEqual(['releaseGpus:n0', 'sendCancel:n0', 'sendCancel:n1', 'settle:0']);
    // cancelling again only repeats the stop message
    expect(cancel(t.job, 31)).toEqual({ job: t.job, effects: [{ kind: 'sendCancel', nodeId: 'n1', attemptId: 'r1' }] });
    const done = finish(t.job, 'r1', { exitCode: 143, outcome: 'cancelled' }, 40);
    expect(done.job).toMatchObject({ status: 'CANCELLED', reason: 'CANCELLED_BY_USER' });
    expect(done.job.cancelRequested).toBeUndefined();
  });

  it('knows which live attempt a node runs', () => {
    const j = running();
    expect(liveAttemptOn(j, 'n1')!.id).toBe('r1');
    expect(liveAttemptOn(j, 'n9')).toBeUndefined();
    expect(liveAttemptOn(finish(j, 'r1', { exitCode: 0, outcome: 'exited' }, 30).job, 'n1')).toBeUndefined();
  });
});

describe('picking a gang', () => {
  const cand = (id: string, over: Record<string, unknown> = {}) => ({
    id, providerId: 'p', status: 'ONLINE' as const, gpuModel: 'A100', vramGb: 80, freeGpus: 2, totalGpus: 2,
    pricePerGpuHour: 1_000_000, region: 'r', reputation: 0.5, probeUrl: `http://10.0.0.${id.slice(1)}:7000/probe`, ...over,
  });
  const want = queued({ resources: { gpus: 2, nodes: 2 } });

  it('takes the best distinct nodes that other ranks can reach, rank 0 the best', () => {
    const pick = pickGang(want, [cand('n1', { pricePerGpuHour: 3_000_000 }), cand('n2'), cand('n3', { probeUrl: undefined }), cand('n4', { freeGpus: 1 })], () => 0);
    expect(pick.nodes!.map((n) => [n.id, n.address])).toEqual([
      ['n2', '10.0.0.2'],
      ['n1', '10.0.0.1'],
    ]);
  });

  it('says why a gang waits', () => {
    const pick = pickGang(want, [cand('n1'), cand('n3', { probeUrl: undefined }), cand('n4', { freeGpus: 1 })], () => 0);
    expect(pick.reason).toBe('a gang of 2 needs 2 nodes: 1 of 2 nodes fit: 1 fewer than 2 free GPUs; 1 without an address for peers');
  });

  it('does not hold a stopped rank against its node, but does hold a lost one', () => {
    const lost = lose(running(), 'r1', 'NODE_LOST', 40).job; // r1 on n1 lost, r0 on n0 aborted
    const pick = pickGang(lost, [cand('n0'), cand('n1'), cand('n2')], () => 0);
    expect(pick.nodes!.map((n) => n.id).sort()).toEqual(['n0', 'n2']);
  });

  it('reads the address from the probe URL, IPv6 included', () => {
    expect(nodeAddress({ probeUrl: 'http://[fd00::7]:7000/probe' })).toBe('fd00::7');
    expect(nodeAddress({ probeUrl: 'not a url' })).toBeUndefined();
    expect(nodeAddress({})).toBeUndefined();
  });
});
