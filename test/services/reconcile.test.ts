// The reconciler's rules, one by one, on the pure function (functions/domain/service/reconcile.ts).
import { describe, expect, it } from 'vitest';
import { BACKOFF_BASE_MS, planChanges, reconcile, replicaId, type ReconcileSettings } from '../../functions/domain/service/reconcile';
import type { Service } from '../../functions/domain/service/model';
import type { Attempt, Job } from '../../functions/domain/model';
import { retire } from '../../functions/domain/job/retire';

const S: ReconcileSettings = { startupSeconds: 60, unreadySeconds: 10, scaleDownCooldownSeconds: 30 };
const NOW = 1_000_000_000;

function svc(o: Partial<Service> = {}): Service {
  return {
    id: 'svc',
    accountId: 'acct',
    name: 'web',
    status: 'RUNNING',
    spec: { command: ['serve'], env: {}, port: 8000, resources: { gpus: 1, nodes: 1 }, readiness: { path: '/' } },
    generation: 1,
    replicas: { min: 2, max: 4 },
    desired: 2,
    targetInflight: 4,
    replicaIds: [],
    nextReplica: 0,
    tokenSha256: 'x',
    load: {},
    createdAt: 0,
    updatedAt: 0,
    version: 1,
    ...o,
  };
}

type Kind = 'queued' | 'assigned' | 'starting' | 'ready' | 'unready' | 'failed' | 'retired' | 'credits' | 'retiring' | 'pulling';
function job(n: number, kind: Kind, o: { gen?: number; startedAt?: number; readyChangedAt?: number; everReady?: boolean; pendingReason?: string } = {}): Job {
  const id = replicaId('svc', n);
  const a: Attempt = { id: `a${n}`, n: 0, nodeId: `node${n}`, status: 'RUNNING', assignedAt: NOW - 5_000, startedAt: o.startedAt ?? NOW - 5_000, pricePerGpuHour: 1 };
  const base: Job = {
    id,
    accountId: 'acct',
    command: ['serve'],
    env: {},
    resources: { gpus: 1, nodes: 1 },
    maxDurationSeconds: 60,
    maxAttempts: 100,
    priority: 0,
    queueTtlSeconds: 86400,
    service: { id: 'svc', generation: o.gen ?? 1, port: 8000, readinessPath: '/' },
    status: 'QUEUED',
    attempts: [],
    createdAt: NOW - 10_000,
    queuedAt: NOW - 10_000,
    version: 3,
  };
  const live = (x: Partial<Attempt>, status: Job['status'] = 'RUNNING'): Job => ({ ...base, status, liveAttemptId: a.id, nodeId: a.nodeId, attempts: [{ ...a, ...x }] });
  switch (kind) {
    case 'queued':
      return { ...base, ...(o.pendingReason ? { pendingReason: o.pendingReason } : {}) };
    case 'assigned':
      return live({ status: 'ASSIGNED', startedAt: undefined }, 'ASSIGNED');
    case 'starting':
      return live({});
    case 'pulling':
      return live({ phase: 'PULLING', startedAt: NOW - 600_000 });
    case 'ready':
      return live({ ready: true, readyChangedAt: o.readyChangedAt ?? NOW - 4_000 });
    case 'unready':
      return live({ ready: false, readyChangedAt: o.readyChangedAt ?? NOW - 1_000 });
    case 'retiring':
      return { ...live({ ready: true, readyChangedAt: NOW - 4_000 }), cancelRequested: NOW - 100, cancelReason: 'REPLICA_RETIRED' };
    case 'failed':
      return { ...base, status: 'FAILED', reason: 'EXIT_NONZERO', finishedAt: NOW - 1_000, attempts: [{ ...a, status: 'FAILED', ...(o.everReady ? { readyChangedAt: NOW - 2_000 } : {}) }] };
    case 'retired':
      return { ...base, status: 'CANCELLED', reason: 'REPLICA_RETIRED', finishedAt: NOW - 1_000, attempts: [{ ...a, status: 'CANCELLED' }] };
    case 'credits':
      return { ...base, status: 'CANCELLED', reason: 'INSUFFICIENT_CREDITS', finishedAt: NOW - 1_000, attempts: [{ ...a, status: 'CANCELLED', readyChangedAt: NOW - 9_000 }] };
  }
}
const mapOf = (...js: Job[]) => new Map(js.map((j) => [j.id, j]));
const ids = (...js: Job[]) => js.map((j) => j.id);

describe('reconcile: counts', () => {
  it('creates replicas up to desired for a new service, PENDING while none is ready', () => {
    const p = reconcile(svc({ status: 'PENDING', replicaIds: [] }), new Map(), NOW, S);
    expect(p.create).toBe(2);
    expect(p.next.status).toBe('PENDING');
    expect(p.retire).toEqual([]);
  });

  it('counts queued, assigned and starting replicas: nothing more to create', () => {
    const js = [job(0, 'queued'), job(1, 'assigned')];
    const p = reconcile(svc({ status: 'PENDING', replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S);
    expect(p.create).toBe(0);
    expect(p.next.status).toBe('PENDING');
  });

  it('RUNNING when ready ≥ desired, DEGRADED when fewer after having been up', () => {
    const two = [job(0, 'ready'), job(1, 'ready')];
    expect(reconcile(svc({ replicaIds: ids(...two) }), mapOf(...two), NOW, S).next.status).toBe('RUNNING');
    const one = [job(0, 'ready'), job(1, 'starting')];
    const p = reconcile(svc({ replicaIds: ids(...one) }), mapOf(...one), NOW, S);
    expect(p.next.status).toBe('DEGRADED');
    expect(p.next.statusReason).toBe('1 of 2 replicas ready');
    expect(planChanges(svc({ replicaIds: ids(...two) }), reconcile(svc({ replicaIds: ids(...two) }), mapOf(...two), NOW, S))).toBe(false);
  });

  it('drops ended replicas and replaces them (a node lost for good, a retired one)', () => {
    const js = [job(0, 'ready'), job(1, 'retired')];
    const p = reconcile(svc({ replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S);
    expect(p.drop).toEqual([js[1].id]);
    expect(p.create).toBe(1);
    expect(p.next.failures).toBeUndefined();
  });

  it('a replica being retired (cancel asked) counts for nothing but stays until it ends', () => {
    const js = [job(0, 'ready'), job(1, 'retiring')];
    const p = reconcile(svc({ replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S);
    expect(p.drop).toEqual([]);
    expect(p.create).toBe(1);
    expect(p.retire).toEqual([]);
  });

  it('a reserved id whose job does not exist is created, not forgotten (its creator may have stopped)', () => {
    const js = [job(0, 'ready')];
    const p = reconcile(svc({ replicaIds: [...ids(...js), replicaId('svc', 1)], nextReplica: 2 }), mapOf(...js), NOW, S);
    expect(p.materialize).toEqual([replicaId('svc', 1)]);
    expect(p.create).toBe(0);
  });
});

describe('reconcile: readiness timeouts', () => {
  it('a replica never ready within startupSeconds is retired, replaced, and counts a failure', () => {
    const js = [job(0, 'ready'), job(1, 'starting', { startedAt: NOW - 61_000 })];
    const p = reconcile(svc({ replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S);
    expect(p.retire).toEqual([{ id: js[1].id, why: 'unhealthy: not ready within 60 s of starting' }]);
    expect(p.next.failures).toBeUndefined(); // a ready replica of this generation proves the spec works
    expect(p.create).toBe(1);
  });

  it('the startup window does not count the image pull', () => {
    const js = [job(0, 'ready'), job(1, 'pulling')];
    expect(reconcile(svc({ replicaIds: ids(...js) }), mapOf(...js), NOW, S).retire).toEqual([]);
  });

  it('a replica that was ready and is not for longer than unreadySeconds is retired and replaced', () => {
    const js = [job(0, 'ready'), job(1, 'unready', { readyChangedAt: NOW - 11_000 })];
    const p = reconcile(svc({ replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S);
    expect(p.retire).toEqual([{ id: js[1].id, why: 'unhealthy: not ready for more than 10 s' }]);
    expect(p.create).toBe(1);
    expect(p.next.failures).toBeUndefined();
  });

  it('unready for less than unreadySeconds: kept (a blip), the service DEGRADED', () => {
    const js = [job(0, 'ready'), job(1, 'unready', { readyChangedAt: NOW - 9_000 })];
    const p = reconcile(svc({ replicaIds: ids(...js) }), mapOf(...js), NOW, S);
    expect(p.retire).toEqual([]);
    expect(p.next.status).toBe('DEGRADED');
  });
});

describe('reconcile: crash-loop backoff', () => {
  it('a replica that ended on its own without ever being ready counts a failure and delays the next', () => {
    const js = [job(0, 'failed')];
    const p = reconcile(svc({ status: 'PENDING', desired: 1, replicas: { min: 1, max: 1 }, replicaIds: ids(...js), nextReplica: 1 }), mapOf(...js), NOW, S);
    expect(p.drop).toEqual([js[0].id]);
    expect(p.create).toBe(0);
    expect(p.next.failures).toBe(1);
    expect(p.next.backoffUntil).toBe(NOW - 1_000 + BACKOFF_BASE_MS);
    expect(p.next.statusReason).toMatch(/1 replica ended without becoming ready; next try in \d+ s/);
  });

  it('after the backoff the next replica is created; each failure doubles the wait', () => {
    const s = svc({ status: 'PENDING', desired: 1, replicas: { min: 1, max: 1 }, failures: 1, backoffUntil: NOW - 1 });
    expect(reconcile(s, new Map(), NOW, S).create).toBe(1);
    const js = [job(1, 'failed')];
    const p = reconcile({ ...s, replicaIds: ids(...js) }, mapOf(...js), NOW, S);
    expect(p.next.failures).toBe(2);
    expect(p.next.backoffUntil).toBe(NOW - 1_000 + 2 * BACKOFF_BASE_MS);
    expect(p.create).toBe(0);
  });

  it('a replica that ended after having been ready is not a crash loop', () => {
    const js = [job(0, 'failed', { everReady: true })];
    const p = reconcile(svc({ desired: 1, replicas: { min: 1, max: 1 }, replicaIds: ids(...js) }), mapOf(...js), NOW, S);
    expect(p.next.failures).toBeUndefined();
    expect(p.create).toBe(1);
  });
});

describe('reconcile: a replica whose node is draining', () => {
  it('is replaced first and retired only once its replacement is ready', () => {
    const js = [job(0, 'ready'), job(1, 'ready')];
    const leaving = new Set([js[0].id]);
    const p = reconcile(svc({ replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S, leaving);
    expect(p.create).toBe(1);
    expect(p.retire).toEqual([]);
    const starting = [...js, job(2, 'starting')];
    expect(reconcile(svc({ replicaIds: ids(...starting), nextReplica: 3 }), mapOf(...starting), NOW, S, leaving)).toMatchObject({ create: 0, retire: [] });
    const ready = [...js, job(2, 'ready')];
    const q = reconcile(svc({ replicaIds: ids(...ready), nextReplica: 3 }), mapOf(...ready), NOW, S, leaving);
    expect(q.retire).toEqual([{ id: js[0].id, why: 'replaced: its node is draining' }]);
    expect(q.create).toBe(0);
  });

  it('not ready: retired at once (it serves nothing) and replaced', () => {
    const js = [job(0, 'ready'), job(1, 'starting')];
    const p = reconcile(svc({ replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S, new Set([js[1].id]));
    expect(p.retire).toEqual([{ id: js[1].id, why: 'its node is draining' }]);
    expect(p.create).toBe(1);
  });
});

describe('reconcile: rolling update (surge 1, never fewer ready)', () => {
  const gen2 = (o: Partial<Service>) => svc({ generation: 2, ...o });

  it('starts one new replica first and retires nothing while it is not ready', () => {
    const js = [job(0, 'ready'), job(1, 'ready')];
    const p = reconcile(gen2({ replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S);
    expect(p.create).toBe(1);
    expect(p.retire).toEqual([]);
    const withNew = [...js, job(2, 'starting', { gen: 2 })];
    const q = reconcile(gen2({ replicaIds: ids(...withNew), nextReplica: 3 }), mapOf(...withNew), NOW, S);
    expect(q.create).toBe(0);
    expect(q.retire).toEqual([]);
    expect(q.next.status).toBe('RUNNING');
  });

  it('when the new one is ready, retires one old (the oldest) and surges the next', () => {
    const js = [job(0, 'ready'), job(1, 'ready'), job(2, 'ready', { gen: 2 })];
    const p = reconcile(gen2({ replicaIds: ids(...js), nextReplica: 3 }), mapOf(...js), NOW, S);
    expect(p.retire).toEqual([{ id: js[0].id, why: 'replaced by a newer generation' }]);
    expect(p.create).toBe(1);
  });

  it('runs to the end: every step keeps at least the ready count it started with', () => {
    let s = gen2({ replicaIds: ids(job(0, 'ready'), job(1, 'ready')), nextReplica: 2 });
    const jobs = new Map([job(0, 'ready'), job(1, 'ready')].map((j) => [j.id, j]));
    for (let step = 0; step < 10; step++) {
      const p = reconcile(s, jobs, NOW, S);
      const readyBefore = s.replicaIds.filter((id) => jobs.get(id)?.attempts[0]?.ready && !jobs.get(id)?.cancelRequested && jobs.get(id)?.status === 'RUNNING').length;
      for (const r of p.retire) jobs.set(r.id, { ...jobs.get(r.id)!, status: 'CANCELLED', reason: 'REPLICA_RETIRED' });
      const readyAfter = s.replicaIds.filter((id) => jobs.get(id)?.status === 'RUNNING' && jobs.get(id)?.attempts[0]?.ready).length;
      expect(readyAfter).toBeGreaterThanOrEqual(Math.min(2, readyBefore));
      const created = Array.from({ length: p.create }, (_, k) => job(s.nextReplica + k, 'ready', { gen: 2 }));
      for (const j of created) jobs.set(j.id, j);
      s = { ...s, replicaIds: [...s.replicaIds.filter((id) => !p.drop.includes(id)), ...ids(...created)], nextReplica: s.nextReplica + p.create, status: p.next.status, desired: p.next.desired };
      const live = s.replicaIds.map((id) => jobs.get(id)!).filter((j) => j.status === 'RUNNING');
      expect(live.length).toBeLessThanOrEqual(3); // surge 1
    }
    const live = s.replicaIds.map((id) => jobs.get(id)!).filter((j) => j.status === 'RUNNING');
    expect(live.map((j) => j.service!.generation)).toEqual([2, 2]);
  });

  it('old replicas that are not ready go at once (they serve nothing)', () => {
    const js = [job(0, 'ready'), job(1, 'starting')];
    const p = reconcile(gen2({ replicaIds: ids(...js), nextReplica: 2 }), mapOf(...js), NOW, S);
    expect(p.retire).toEqual([{ id: js[1].id, why: 'replaced by a newer generation' }]);
    expect(p.create).toBe(2); // one old left: live stays within desired + 1
  });

  it('a new generation that never becomes ready leaves the old ones serving', () => {
    const js = [job(0, 'ready'), job(1, 'ready'), job(2, 'starting', { gen: 2, startedAt: NOW - 61_000 })];
    const p = reconcile(gen2({ replicaIds: ids(...js), nextReplica: 3 }), mapOf(...js), NOW, S);
    expect(p.retire).toEqual([{ id: js[2].id, why: 'unhealthy: not ready within 60 s of starting' }]);
    expect(p.next.failures).toBe(1);
    expect(p.create).toBe(0); // backing off
    expect(p.next.status).toBe('RUNNING');
  });
});

describe('reconcile: scaling', () => {
  it('scale-down retires not-ready replicas first, then the newest', () => {
    const js = [job(0, 'ready'), job(1, 'ready'), job(2, 'starting'), job(3, 'ready')];
    const p = reconcile(svc({ desired: 4, replicas: { min: 1, max: 1 }, replicaIds: ids(...js), scaledAt: 0 }), mapOf(...js), NOW, S);
    expect(p.next.desired).toBe(1);
    expect(p.retire.map((r) => r.id)).toEqual([js[2].id, js[3].id, js[1].id]);
    expect(p.retire[0].why).toBe('scaled down');
  });

  it('scales up at once from fresh load, bounded by max', () => {
    const js = [job(0, 'ready'), job(1, 'ready')];
    const s = svc({ replicaIds: ids(...js), nextReplica: 2, load: { r1: { inflight: 9, at: NOW - 1_000 }, r2: { inflight: 4, at: NOW - 2_000 } } });
    const p = reconcile(s, mapOf(...js), NOW, S);
    expect(p.next.desired).toBe(4); // ceil(13 / 4) = 4
    expect(p.next.scaledAt).toBe(NOW);
    expect(p.create).toBe(2);
    const big = reconcile({ ...s, load: { r1: { inflight: 1000, at: NOW } } }, mapOf(...js), NOW, S);
    expect(big.next.desired).toBe(4);
  });

  it('ignores stale load entries', () => {
    const s = svc({ load: { r1: { inflight: 100, at: NOW - 60_000 } } });
    expect(reconcile(s, new Map(), NOW, S).next.desired).toBe(2);
  });

  it('scales down only after the cool-down, and not below min', () => {
    const js = [job(0, 'ready'), job(1, 'ready'), job(2, 'ready'), job(3, 'ready')];
    const s = svc({ desired: 4, scaledAt: NOW - 10_000, replicaIds: ids(...js), load: { r1: { inflight: 1, at: NOW } } });
    expect(reconcile(s, mapOf(...js), NOW, S).next.desired).toBe(4);
    const later = reconcile({ ...s, scaledAt: NOW - 31_000 }, mapOf(...js), NOW, S);
    expect(later.next.desired).toBe(2);
    expect(later.retire.map((r) => r.id)).toEqual([js[3].id, js[2].id]);
  });

  it('a PATCH that raises min is obeyed at once (clamp, not a scaling decision)', () => {
    const p = reconcile(svc({ desired: 2, replicas: { min: 3, max: 4 }, scaledAt: NOW }), new Map(), NOW, S);
    expect(p.next.desired).toBe(3);
  });
});

describe('reconcile: credits and delete', () => {
  it('a replica ended INSUFFICIENT_CREDITS suspends the service: desired 0, every replica retired, a reason', () => {
    const js = [job(0, 'ready'), job(1, 'credits')];
    const p = reconcile(svc({ replicaIds: ids(...js) }), mapOf(...js), NOW, S);
    expect(p.next.status).toBe('SUSPENDED');
    expect(p.next.desired).toBe(0);
    expect(p.next.statusReason).toMatch(/credits/);
    expect(p.retire.map((r) => r.id)).toEqual([js[0].id]);
    expect(p.create).toBe(0);
    expect(p.next.failures).toBeUndefined();
  });

  it('a replica waiting because its hold is not covered suspends the service too', () => {
    const js = [job(0, 'queued', { pendingReason: 'insufficient credits: the escrow hold is 5 GPC' })];
    const p = reconcile(svc({ status: 'PENDING', replicaIds: ids(...js) }), mapOf(...js), NOW, S);
    expect(p.next.status).toBe('SUSPENDED');
    expect(p.retire.map((r) => r.id)).toEqual([js[0].id]);
  });

  it('SUSPENDED stays suspended (and creates nothing) until a PATCH resumes it', () => {
    const p = reconcile(svc({ status: 'SUSPENDED', desired: 0, statusReason: 'suspended: x' }), new Map(), NOW, S);
    expect(p.next).toMatchObject({ status: 'SUSPENDED', desired: 0, statusReason: 'suspended: x' });
    expect(p.create).toBe(0);
  });

  it('DELETING retires every replica (a missing one gets a placeholder) and ends DELETED when none is left', () => {
    const js = [job(0, 'ready'), job(1, 'ready', { gen: 0 }), job(2, 'queued'), job(3, 'retiring')];
    const missing = replicaId('svc', 4);
    const p = reconcile(svc({ status: 'DELETING', replicaIds: [...ids(...js), missing] }), mapOf(...js), NOW, S);
    expect(p.retire.map((r) => r.id).sort()).toEqual([js[0].id, js[1].id, js[2].id, missing].sort());
    expect(p.materialize).toEqual([]);
    expect(p.create).toBe(0);
    expect(p.next.status).toBe('DELETING');
    const done = reconcile(svc({ status: 'DELETING', replicaIds: [js[0].id] }), mapOf(job(0, 'retired')), NOW, S);
    expect(done.next.status).toBe('DELETED');
    expect(done.drop).toEqual([js[0].id]);
  });
});

describe('retire (domain/job/retire.ts)', () => {
  it('ends a queued or assigned replica REPLICA_RETIRED at once; asks a running one to stop and remembers why', () => {
    const q = retire(job(0, 'queued'), NOW);
    expect(q.job).toMatchObject({ status: 'CANCELLED', reason: 'REPLICA_RETIRED' });
    const a = retire(job(0, 'assigned'), NOW);
    expect(a.job).toMatchObject({ status: 'CANCELLED', reason: 'REPLICA_RETIRED' });
    expect(a.job.attempts[0].reason).toBe('REPLICA_RETIRED');
    const r = retire(job(0, 'ready'), NOW);
    expect(r.job).toMatchObject({ status: 'RUNNING', cancelRequested: NOW, cancelReason: 'REPLICA_RETIRED' });
    expect(r.effects).toEqual([{ kind: 'sendCancel', nodeId: 'node0', attemptId: 'a0' }]);
  });
});
