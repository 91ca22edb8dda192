// Services' control plane on DynamoDB Local through the API (docs/services.md): create, replicas as jobs,
// readiness from heartbeats, rolling update, tenancy, bad input, races, delete. Nodes are driven by hand
// with their node keys (test/api/helpers.ts manualAgent), so every step is the test's to take.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../functions/domain/model';
import type { Service } from '../../functions/domain/service/model';
import { reconcileService } from '../../functions/usecases/service-reconcile';
import { tokenHash } from '../../functions/usecases/services';
import { MAX_SERVICES_PER_ACCOUNT } from '../../functions/domain/service/schemas';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, manualAgent, problemOf, registerNode, snapshotTables } from '../api/helpers';

type Acct = Awaited<ReturnType<Pool['newAccount']>>;
type Node = Awaited<ReturnType<typeof manualAgent>>;
let pool: Pool;
let alice: Acct;
let bob: Acct;
const nodes = new Map<string, Node>();

const SPEC = { name: 'web', command: ['serve'], port: 8000, replicas: { min: 2, max: 4 }, resources: { gpus: 1, gpuModels: ['T4'] }, readiness: { path: '/health' } };

beforeAll(async () => {
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  alice = await pool.newAccount('consumer', 'alice');
  bob = await pool.newAccount('consumer', 'bob');
  const regs = await Promise.all([1, 2, 3].map((i) => registerNode(provider.api, `svc-n${i}`, 'T4', 1)));
  for (const [i, r] of regs.entries()) {
    const n = await manualAgent(pool.stack.apiUrl, r.key, `boot-svc-${i}`);
    // the node's ingress (its probe server) as the agent reports it in its session
    await n.api.post('/v1/agent/session', { bootId: `boot-svc-${i}`, probeUrl: `http://127.0.0.${i + 1}:9${i}00/probe` });
    nodes.set(n.nodeId, n);
  }
}, 120_000);

afterAll(async () => {
  for (const n of nodes.values()) n.stop();
  await pool?.stop();
});

const d = () => pool.stack.deps;
const svcOf = async (id: string) => (await d().services.get(id))!;
const jobsOf = async (s: Service) => (await Promise.all(s.replicaIds.map((r) => d().jobs.get(r)))).filter((j): j is Job => !!j);
const live = (j: Job) => j.attempts.find((a) => a.id === j.liveAttemptId);
/** every replica job of the account that links to `serviceId` (whatever the service counts) */
async function allReplicaJobs(serviceId: string): Promise<Job[]> {
  const out: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await d().jobs.listByAccount(alice.id, 100, cursor);
    out.push(...page.items.filter((j) => j.service?.id === serviceId));
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** Starts every ASSIGNED replica on its node (as its agent would) and reports readiness `ready` for them all. */
async function startAndReport(serviceId: string, ready: boolean, only?: (j: Job) => boolean): Promise<void> {
  const s = await svcOf(serviceId);
  for (const j of await jobsOf(s)) {
    const a = live(j);
    if (!a || (only && !only(j))) continue;
    const n = nodes.get(a.nodeId)!;
    if (a.status === 'ASSIGNED') expect((await n.api.post(`/v1/agent/jobs/${j.id}/start`, { attemptId: a.id })).status).toBe(200);
    expect((await n.api.post('/v1/agent/heartbeat', { running: [a.id], services: [{ attemptId: a.id, ready }] })).status).toBe(200);
  }
}

/** Ends, as their agents would, the replicas the control plane asked to stop. */
async function stopRetiring(serviceId: string): Promise<void> {
  for (const j of await allReplicaJobs(serviceId)) {
    const a = live(j);
    if (!a || !j.cancelRequested) continue;
    await nodes.get(a.nodeId)!.api.post(`/v1/agent/jobs/${j.id}/finish`, { attemptId: a.id, exitCode: null, outcome: 'cancelled' });
  }
}

let svcId: string;

describe('services API', () => {
  it('refuses bad input with a 400 problem and writes nothing', async () => {
    const before = await snapshotTables(pool.stack);
    const bad: [string, unknown][] = [
      ['max over 16', { ...SPEC, replicas: { min: 1, max: 17 } }],
      ['min over max', { ...SPEC, replicas: { min: 3, max: 2 } }],
      ['negative min', { ...SPEC, replicas: { min: -1, max: 2 } }],
      ['a gang', { ...SPEC, resources: { gpus: 1, nodes: 2 } }],
      ['GPUPOOL_* env', { ...SPEC, env: { GPUPOOL_JOB_ID: 'x' } }],
      ['bad env name', { ...SPEC, env: { '1X': 'x' } }],
      ['bad image', { ...SPEC, image: '-v /:/host' }],
      ['port 0', { ...SPEC, port: 0 }],
      ['relative readiness path', { ...SPEC, readiness: { path: 'health' } }],
      ['unknown field', { ...SPEC, privileged: true }],
      ['no command', { ...SPEC, command: [] }],
      ['secret it does not hold', { ...SPEC, env: { HF: { secret: 'nope' } } }],
      ['login for another registry', { ...SPEC, image: 'registry.example.com/m:1', registryAuth: { server: 'other.example.com', username: 'u', passwordSecret: 'pw' } }],
    ];
    for (const [what, body] of bad) expectProblem(await alice.api.post('/v1/services', body), 400, what);
    expectProblem(await alice.api.patch('/v1/services/nosuch', {}), 400, 'empty patch');
    const after = await snapshotTables(pool.stack);
    expect(after.services).toBe(before.services);
    expect(after.jobs).toBe(before.jobs);
  });

  it('creates: 201 with the token once, replicas as placed jobs linked to the service', async () => {
    await alice.api.post('/v1/secrets', { name: 'hf', value: 'hf-secret-value-123' });
    const r = await alice.api.post('/v1/services', { ...SPEC, env: { MODE: 'a', HF: { secret: 'hf' } } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const { service, token } = r.body;
    svcId = service.id;
    expect(token).toMatch(/^gps_[A-Za-z0-9_-]{32}$/);
    expect(r.headers.get('location')).toBe(`/v1/services/${svcId}`);
    expect(service).toMatchObject({ name: 'web', status: 'PENDING', url: `${pool.stack.apiUrl}/s/${svcId}`, replicasWanted: { min: 2, max: 4, desired: 2 }, generation: 1 });
    expect(service.spec.env).toEqual({ MODE: 'a', HF: { secret: 'hf' } });
    expect(service.replicas).toHaveLength(2);
    const text = JSON.stringify(r.body);
    expect(text).not.toContain('hf-secret-value-123');
    expect(text).not.toContain(tokenHash(token));
    expect(text).not.toMatch(/tokenSha256|"load"/);
    const stored = await svcOf(svcId);
    expect(stored.tokenSha256).toBe(tokenHash(token));
    expect(stored.replicaIds).toEqual([`${svcId}-s0`, `${svcId}-s1`]);
    // placed at create, or by the next sweep when the inline try did not place it (seen once in a loaded
    // full run: one replica still QUEUED when read right after the 201); placement is the sweep's job too
    const jobs = await eventually(
      async () => ((js) => (js.length === 2 && js.every((j) => j.status === 'ASSIGNED') ? js : undefined))(await jobsOf(stored)),
      10_000,
      'both replicas placed',
    );
    for (const j of jobs) {
      expect(j.service).toEqual({ id: svcId, generation: 1, port: 8000, readinessPath: '/health' });
      expect(j).toMatchObject({ accountId: alice.id, maxDurationSeconds: 60, maxAttempts: 1000, status: 'ASSIGNED', secretEnv: { HF: 'hf' } });
    }
    expect(new Set(jobs.map((j) => j.nodeId)).size).toBe(2);
  });

  it('readiness from the heartbeat: written on the replica, RUNNING once both are ready; endpoint is the node ingress', async () => {
    await startAndReport(svcId, false);
    expect((await svcOf(svcId)).status).toBe('PENDING');
    await startAndReport(svcId, true);
    const s = await svcOf(svcId);
    expect(s.status).toBe('RUNNING');
    const view = (await alice.api.get(`/v1/services/${svcId}`)).body.service;
    expect(view.replicas).toHaveLength(2);
    for (const rep of view.replicas) {
      expect(rep).toMatchObject({ status: 'RUNNING', ready: true, generation: 1 });
      expect(rep.endpoint).toMatch(/^http:\/\/127\.0\.0\.\d:9\d00$/);
    }
  });

  it('attack: a node reporting readiness for an attempt on another node is ignored', async () => {
    const s = await svcOf(svcId);
    const [j] = await jobsOf(s);
    const a = live(j)!;
    const stranger = [...nodes.values()].find((n) => n.nodeId !== a.nodeId)!;
    const r = await stranger.api.post('/v1/agent/heartbeat', { running: [], services: [{ attemptId: a.id, ready: false }] });
    expect(r.status).toBe(200);
    const after = (await d().jobs.get(j.id))!;
    expect(live(after)).toMatchObject({ ready: true });
    expect(after.version).toBe(j.version);
  });

  it('attack: another account cannot read, change or delete the service (404 like a missing one); an admin may read', async () => {
    const missing = problemOf(await bob.api.get('/v1/services/01nosuchservice0000000000'));
    for (const r of [await bob.api.get(`/v1/services/${svcId}`), await bob.api.patch(`/v1/services/${svcId}`, { replicas: { min: 0, max: 1 } }), await bob.api.del(`/v1/services/${svcId}`)]) {
      expectProblem(r, 404);
      expect(problemOf(r).detail).toBe(missing.detail);
    }
    expect((await bob.api.get('/v1/services')).body.items).toEqual([]);
    expect((await svcOf(svcId)).status).toBe('RUNNING');
    expect((await svcOf(svcId)).replicas).toEqual({ min: 2, max: 4 });
    expect((await pool.admin.get(`/v1/services/${svcId}`)).status).toBe(200);
    expectProblem(await pool.admin.patch(`/v1/services/${svcId}`, { targetInflight: 2 }), 403);
    const mine = await alice.api.get('/v1/services');
    expect(mine.body.items.map((x: { id: string }) => x.id)).toEqual([svcId]);
  });

  it('rolling update: one new replica first, an old one retired only when it is ready, until none old is left', async () => {
    const p = await alice.api.patch(`/v1/services/${svcId}`, { env: { MODE: 'b', HF: { secret: 'hf' } } });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body.service.generation).toBe(2);
    let s = await svcOf(svcId);
    let jobs = await jobsOf(s);
    expect(jobs.map((j) => [j.service!.generation, j.status])).toEqual([[1, 'RUNNING'], [1, 'RUNNING'], [2, 'ASSIGNED']]);
    expect(jobs[2].env).toEqual({ MODE: 'b' });
    // not ready yet: nothing retired
    await startAndReport(svcId, false, (j) => j.service!.generation === 2);
    expect((await jobsOf(await svcOf(svcId))).filter((j) => j.cancelRequested)).toEqual([]);
    // ready: the oldest is asked to stop (REPLICA_RETIRED), the node frees, the next new one is placed there
    await startAndReport(svcId, true, (j) => j.service!.generation === 2);
    s = await svcOf(svcId);
    jobs = await allReplicaJobs(svcId);
    const retiring = jobs.filter((j) => j.cancelRequested);
    expect(retiring.map((j) => j.id)).toEqual([`${svcId}-s0`]);
    expect(retiring[0].cancelReason).toBe('REPLICA_RETIRED');
    await stopRetiring(svcId);
    expect(await d().jobs.get(`${svcId}-s0`)).toMatchObject({ status: 'CANCELLED', reason: 'REPLICA_RETIRED' });
    // the tick drops it and surges the next new replica onto the freed node
    const fourth = await eventually(async () => (await d().jobs.get(`${svcId}-s3`)) ?? undefined, 15_000, 'second new replica');
    expect(fourth.service!.generation).toBe(2);
    await eventually(async () => ((await d().jobs.get(`${svcId}-s3`))?.status === 'ASSIGNED' ? true : undefined), 15_000, 'placed');
    await startAndReport(svcId, true, (j) => j.id === `${svcId}-s3`);
    await stopRetiring(svcId);
    await eventually(async () => {
      const now = await svcOf(svcId);
      const js = await jobsOf(now);
      return now.status === 'RUNNING' && js.length === 2 && js.every((j) => j.service!.generation === 2 && j.status === 'RUNNING') ? true : undefined;
    }, 15_000, 'rolled to generation 2');
    expect((await svcOf(svcId)).replicaIds).toEqual([`${svcId}-s2`, `${svcId}-s3`]);
  });

  it('two reconciles at once (and the tick) never create an extra replica', async () => {
    const s = await svcOf(svcId);
    // wants 3 now; six passes race to act on it
    await d().services.save(s, { ...s, replicas: { min: 3, max: 4 }, updatedAt: Date.now(), version: s.version + 1 });
    await Promise.all(Array.from({ length: 6 }, () => reconcileService(d(), svcId)));
    const after = await svcOf(svcId);
    expect(after.replicaIds).toHaveLength(3);
    expect(new Set(after.replicaIds).size).toBe(3);
    const linked = (await allReplicaJobs(svcId)).filter((j) => !['CANCELLED', 'FAILED', 'SUCCEEDED', 'TIMED_OUT'].includes(j.status));
    expect(linked.map((j) => j.id).sort()).toEqual([...after.replicaIds].sort());
  });

  it('concurrent PATCHes and reconciles lose no change', async () => {
    const results = await Promise.all([
      alice.api.patch(`/v1/services/${svcId}`, { targetInflight: 7 }),
      alice.api.patch(`/v1/services/${svcId}`, { replicas: { min: 3, max: 5 } }),
      alice.api.patch(`/v1/services/${svcId}`, { command: ['serve', '--v3'] }),
      reconcileService(d(), svcId),
      reconcileService(d(), svcId),
    ]);
    for (const r of results.slice(0, 3)) expect((r as { status: number }).status).toBe(200);
    const s = await svcOf(svcId);
    expect(s).toMatchObject({ targetInflight: 7, replicas: { min: 3, max: 5 }, generation: 3 });
    expect(s.spec.command).toEqual(['serve', '--v3']);
    expect(s.spec.env).toEqual({ MODE: 'b' });
    expect(s.spec.secretEnv).toEqual({ HF: 'hf' });
  });

  it('delete: DELETING at once, every replica ends, then DELETED (and out of the active index); repeating is fine', async () => {
    const r = await alice.api.del(`/v1/services/${svcId}`);
    expect(r.status).toBe(202);
    expect(r.body.service.status).toBe('DELETING');
    expect((await alice.api.del(`/v1/services/${svcId}`)).status).toBe(202);
    expectProblem(await alice.api.patch(`/v1/services/${svcId}`, { targetInflight: 3 }), 409);
    await stopRetiring(svcId);
    await eventually(async () => ((await svcOf(svcId)).status === 'DELETED' ? true : undefined), 15_000, 'DELETED');
    const jobs = await allReplicaJobs(svcId);
    expect(jobs.length).toBeGreaterThan(0);
    for (const j of jobs) expect(['CANCELLED', 'FAILED', 'SUCCEEDED', 'TIMED_OUT']).toContain(j.status);
    expect(jobs.filter((j) => j.status === 'CANCELLED').every((j) => j.reason === 'REPLICA_RETIRED')).toBe(true);
    expect(await d().services.activeIds()).not.toContain(svcId);
    expect((await alice.api.get(`/v1/services/${svcId}`)).body.service).toMatchObject({ status: 'DELETED', replicas: [] });
    // every node got its GPU back
    for (const id of nodes.keys()) expect((await d().nodes.get(id))!.freeGpus).toBe(1);
  });

  it('attack: a create retried with an Idempotency-Key never stores the token in plain (the replay says it was shown once)', async () => {
    const body = { ...SPEC, name: 'idem', replicas: { min: 0, max: 1 } };
    const first = await alice.api.post('/v1/services', body, { 'idempotency-key': 'svc-idem-1' });
    expect(first.status).toBe(201);
    const replay = await alice.api.post('/v1/services', body, { 'idempotency-key': 'svc-idem-1' });
    expect(replay.status).toBe(201);
    expect(replay.body).toMatchObject({ service: { id: first.body.service.id }, token: null, secretShownOnce: true });
    const tables = await snapshotTables(pool.stack);
    for (const [table, items] of Object.entries(tables)) expect(items, table).not.toContain(first.body.token);
    expect((await alice.api.del(`/v1/services/${first.body.service.id}`)).status).toBe(202);
  });

  it('race: concurrent creates never pass the per-account limit of services; a deleted one gives its place back', async () => {
    const carol = await pool.newAccount('consumer', 'carol');
    const body = { ...SPEC, name: 'many', replicas: { min: 0, max: 1 } };
    const answers = await Promise.all(Array.from({ length: MAX_SERVICES_PER_ACCOUNT + 4 }, () => carol.api.post('/v1/services', body)));
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(MAX_SERVICES_PER_ACCOUNT);
    for (const a of answers.filter((x) => x.status !== 201)) expectProblem(a, 409);
    expect((await d().accounts.item(carol.id))!).toMatchObject({ activeServices: MAX_SERVICES_PER_ACCOUNT });
    const gone = created[0].body.service.id as string;
    expect((await carol.api.del(`/v1/services/${gone}`)).body.service.status).toBe('DELETED');
    expect((await d().accounts.item(carol.id))!).toMatchObject({ activeServices: MAX_SERVICES_PER_ACCOUNT - 1 });
    expect((await carol.api.post('/v1/services', body)).status).toBe(201);
    expectProblem(await carol.api.post('/v1/services', body), 409);
  });

  it('a reserved replica id no longer wanted gets an ended placeholder: a late creation of it fails', async () => {
    const r = await alice.api.post('/v1/services', { ...SPEC, name: 'placeholder', replicas: { min: 0, max: 1 } });
    expect(r.status).toBe(201);
    const id = r.body.service.id as string;
    const s = await svcOf(id);
    // a reconciler reserved s0 and stopped before creating its job; then the service was deleted
    await d().services.save(s, { ...s, status: 'DELETING', desired: 0, replicaIds: [`${id}-s0`], nextReplica: 1, updatedAt: Date.now(), version: s.version + 1 });
    await reconcileService(d(), id);
    expect(await d().jobs.get(`${id}-s0`)).toMatchObject({ status: 'CANCELLED', reason: 'REPLICA_RETIRED', attempts: [] });
    const late = { ...(await d().jobs.get(`${id}-s0`))!, status: 'QUEUED' as const, reason: undefined };
    await expect(d().jobs.create(late)).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    await eventually(async () => ((await svcOf(id)).status === 'DELETED' ? true : undefined), 15_000, 'DELETED');
  });

  it('credits: a replica whose hold the owner cannot cover suspends the service (desired 0, a reason); credits and a PATCH resume it', async () => {
    const poor = await pool.newAccount('consumer', 'poor', false);
    const r = await poor.api.post('/v1/services', { ...SPEC, name: 'poor', replicas: { min: 1, max: 1 } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const id = r.body.service.id as string;
    const suspended = await eventually(async () => {
      const s = await svcOf(id);
      return s.status === 'SUSPENDED' ? s : undefined;
    }, 15_000, 'SUSPENDED');
    expect(suspended.desired).toBe(0);
    expect(suspended.statusReason).toMatch(/credits/);
    // the reconciler writes its decision (SUSPENDED) before it acts on it: the replica ends just after
    const retired = await eventually(async () => {
      const j = await d().jobs.get(`${id}-s0`);
      return j?.status === 'CANCELLED' ? j : undefined;
    }, 15_000, 'replica s0 CANCELLED');
    expect(retired.reason).toBe('REPLICA_RETIRED');
    // the tick leaves it suspended: nothing more is created
    await new Promise((res) => setTimeout(res, 1_500));
    expect((await svcOf(id)).replicaIds).toEqual([]);
    expect(await d().jobs.get(`${id}-s1`)).toBeUndefined();
    expect((await pool.admin.post(`/v1/accounts/${poor.id}/credits`, { amount: 1_000_000_000, memo: 'top up' })).status).toBe(201);
    const p = await poor.api.patch(`/v1/services/${id}`, { replicas: { min: 1, max: 1 } });
    expect(p.status).toBe(200);
    expect(p.body.service).toMatchObject({ status: 'PENDING', replicasWanted: { desired: 1 } });
    expect(await d().jobs.get(`${id}-s1`)).toMatchObject({ status: 'ASSIGNED' });
    expect((await poor.api.del(`/v1/services/${id}`)).status).toBe(202);
  });
});
