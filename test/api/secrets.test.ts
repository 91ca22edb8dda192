// Secrets through the API on the local stack, with nodes driven by hand: set, list, delete by the owner
// only; a job's references checked at submit; the values given in the start answer of the node that runs
// the attempt and nowhere else; a secret deleted while its job waits fails the job at its start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, manualAgent, registerNode, snapshotTables } from './helpers';

let pool: Pool;
type Account = Awaited<ReturnType<Pool['newAccount']>>;
let alice: Account;
let bob: Account;
let provider: Account;
let node: Awaited<ReturnType<typeof manualAgent>>;
let other: Awaited<ReturnType<typeof manualAgent>>;
const VALUE = 'hf_Zq81xVALUEthatMustNeverLeak';

const job = async (who: Account, id: string) => (await who.api.get(`/v1/jobs/${id}`)).body.job;
async function placed(who: Account, body: Record<string, unknown>): Promise<{ id: string; attemptId: string }> {
  const r = await who.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1, gpuModels: ['T4'] }, ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const id = r.body.job.id as string;
  const attemptId = await eventually(async () => (await job(who, id)).attempts[0]?.id as string | undefined, 15_000, 'placement');
  return { id, attemptId };
}
const finish = (id: string, attemptId: string) => node.api.post(`/v1/agent/jobs/${id}/finish`, { attemptId, exitCode: 0, outcome: 'exited' });

beforeAll(async () => {
  pool = await startPool();
  provider = await pool.newAccount('provider');
  const p2 = await pool.newAccount('provider', 'provider2');
  alice = await pool.newAccount('consumer', 'alice');
  bob = await pool.newAccount('consumer', 'bob');
  const [n1, n2] = await Promise.all([registerNode(provider.api, 'sec-n1', 'T4', 1), registerNode(p2.api, 'sec-n2', 'L4', 1)]);
  [node, other] = await Promise.all([manualAgent(pool.stack.apiUrl, n1.key, 'boot-sec-1'), manualAgent(pool.stack.apiUrl, n2.key, 'boot-sec-2')]);
}, 120_000);

afterAll(async () => {
  node?.stop();
  other?.stop();
  await pool?.stop();
});

describe('secrets API', () => {
  it('sets (201, a new version on each set), lists names and versions without values, deletes (204)', async () => {
    const a = await alice.api.post('/v1/secrets', { name: 'hf', value: VALUE });
    expect(a.status).toBe(201);
    expect(a.body).toEqual({ secret: { name: 'hf', version: 1, createdAt: expect.any(Number) } });
    const b = await alice.api.post('/v1/secrets', { name: 'hf', value: VALUE + '2' });
    expect(b.body.secret.version).toBe(2);
    await alice.api.post('/v1/secrets', { name: 'TMP_X', value: 'x-value' });
    const list = await alice.api.get('/v1/secrets');
    expect(list.status).toBe(200);
    expect(list.body.items.map((s: { name: string; version: number }) => [s.name, s.version])).toEqual([['TMP_X', 1], ['hf', 2]]);
    expect(JSON.stringify(list.body)).not.toContain('value');
    expect((await alice.api.del('/v1/secrets/TMP_X')).status).toBe(204);
    expectProblem(await alice.api.del('/v1/secrets/TMP_X'), 404);
    await alice.api.post('/v1/secrets', { name: 'hf', value: VALUE }); // back to the value the other tests use
  });

  it('refuses bad input with a problem document that never echoes the value, and stores nothing', async () => {
    const before = await snapshotTables(pool.stack);
    for (const body of [{ name: '1abc', value: 'v' }, { name: 'has-dash', value: 'v' }, { name: 'ok' }, { name: 'ok', value: '' }, { name: 'ok', value: 'A'.repeat(32 * 1024 + 1) }, { name: 'ok', value: 'v', extra: 1 }, { name: 'ok', value: 42 }]) {
      const r = await alice.api.post('/v1/secrets', body);
      expectProblem(r, 400, JSON.stringify(body).slice(0, 60));
      expect(JSON.stringify(r.body)).not.toContain('AAAA');
    }
    expect(await snapshotTables(pool.stack)).toEqual(before);
  });

  it('is owner-only: another consumer neither lists, deletes, nor uses my secret by name; providers and admins have no secrets routes', async () => {
    expect((await bob.api.get('/v1/secrets')).body.items).toEqual([]);
    expectProblem(await bob.api.del('/v1/secrets/hf'), 404);
    // bob's job naming "hf" is refused: the name resolves in bob's account, where there is none
    const r = await bob.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, env: { HF_TOKEN: { secret: 'hf' } } });
    expectProblem(r, 400);
    expect(r.body.errors).toEqual([{ path: 'env.HF_TOKEN.secret', message: 'no secret named hf' }]);
    expectProblem(await provider.api.get('/v1/secrets'), 403);
    expectProblem(await provider.api.post('/v1/secrets', { name: 'x', value: 'yyyy' }), 403);
    expectProblem(await pool.admin.get('/v1/secrets'), 403);
    expect((await alice.api.get('/v1/secrets')).body.items.map((s: { name: string }) => s.name)).toEqual(['hf']);
  });

  it('the sealed item holds no plain value, and a sealed value moved to another account does not open', async () => {
    const item = await pool.stack.deps.secrets.get(alice.id, 'hf');
    expect(item?.sealed).toMatch(/^v1\./);
    expect(JSON.stringify(item)).not.toContain(VALUE);
    const cipher = pool.stack.deps.secretCipher!;
    expect(await cipher.open(item!.sealed, { accountId: alice.id, name: 'hf' })).toBe(VALUE);
    await expect(cipher.open(item!.sealed, { accountId: bob.id, name: 'hf' })).rejects.toThrow();
    await expect(cipher.open(item!.sealed, { accountId: alice.id, name: 'other' })).rejects.toThrow();
  });
});

describe('a job that uses secrets', () => {
  it('refuses a submit naming a missing secret (400, names only), and a registryAuth for another registry', async () => {
    const r = await alice.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, env: { A: { secret: 'nope' }, B: 'plain' } });
    expectProblem(r, 400);
    expect(r.body.errors).toEqual([{ path: 'env.A.secret', message: 'no secret named nope' }]);
    const ra = await alice.api.post('/v1/jobs', { image: 'ghcr.io/acme/x:1', command: ['true'], resources: { gpus: 1 }, registryAuth: { server: 'evil.example.com', username: 'u', passwordSecret: 'hf' } });
    expectProblem(ra, 400);
    expect(ra.body.errors[0].path).toBe('registryAuth.server');
    expectProblem(await alice.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, env: { A: { secret: 'hf', x: 1 } } }), 400);
  });

  it('the job view shows the reference, the dispatch message carries no value; only the start answer of the node running the attempt has it', async () => {
    const sent: string[] = [];
    const queues = pool.stack.deps.queues as unknown as { send: (...a: unknown[]) => Promise<unknown> };
    const send = queues.send.bind(queues);
    queues.send = async (...a: unknown[]) => (sent.push(JSON.stringify(a)), send(...a));
    try {
      const { id, attemptId } = await placed(alice, { image: 'ghcr.io/acme/x:1', env: { HF_TOKEN: { secret: 'hf' }, PLAIN: 'p' }, registryAuth: { server: 'ghcr.io', username: 'bot', passwordSecret: 'hf' } });
      const view = await job(alice, id);
      expect(view.env).toEqual({ PLAIN: 'p', HF_TOKEN: { secret: 'hf' } });
      expect(view.registryAuth).toEqual({ server: 'ghcr.io', username: 'bot', passwordSecret: 'hf' });
      expect(JSON.stringify(view)).not.toContain(VALUE);
      // another node: not its attempt, nothing revealed
      const theirs = await other.api.post(`/v1/agent/jobs/${id}/start`, { attemptId });
      expectProblem(theirs, 404);
      expect(JSON.stringify(theirs.body)).not.toContain(VALUE);
      const s = await node.api.post(`/v1/agent/jobs/${id}/start`, { attemptId, seq: 1 });
      expect(s.status).toBe(200);
      expect(s.body.secrets).toEqual({ env: { HF_TOKEN: VALUE }, registryAuth: { server: 'ghcr.io', username: 'bot', password: VALUE } });
      // a repeat of the start while the attempt runs (its first answer was lost) gets the same answer
      expect((await node.api.post(`/v1/agent/jobs/${id}/start`, { attemptId, seq: 2 })).body.secrets.env.HF_TOKEN).toBe(VALUE);
      expect((await finish(id, attemptId)).status).toBe(200);
      // replayed after the attempt ended: refused, no value
      const late = await node.api.post(`/v1/agent/jobs/${id}/start`, { attemptId, seq: 3 });
      expectProblem(late, 409);
      expect(JSON.stringify(late.body)).not.toContain(VALUE);
      expect(sent.some((m) => m.includes(attemptId))).toBe(true);
      for (const m of sent) expect(m).not.toContain(VALUE);
      for (const l of (await alice.api.get(`/v1/jobs?limit=100`)).body.items) expect(JSON.stringify(l)).not.toContain(VALUE);
    } finally {
      queues.send = send;
    }
  });

  it('a secret deleted while its job waits: the start fails the job (SECRET_NOT_FOUND, named on the attempt) and the node is told 409', async () => {
    await alice.api.post('/v1/secrets', { name: 'gone', value: 'short-lived-value' });
    const { id, attemptId } = await placed(alice, { env: { TOKEN: { secret: 'gone' } } });
    expect((await alice.api.del('/v1/secrets/gone')).status).toBe(204);
    const s = await node.api.post(`/v1/agent/jobs/${id}/start`, { attemptId });
    expectProblem(s, 409);
    expect(s.body.detail).toContain('gone');
    const j = await job(alice, id);
    expect(j.status).toBe('FAILED');
    expect(j.reason).toBe('SECRET_NOT_FOUND');
    expect(j.attempts[0].message).toMatch(/secret gone no longer exists/);
    // the node's GPU is free again: the next job is placed on it
    const next = await placed(alice, {});
    expect((await node.api.post(`/v1/agent/jobs/${next.id}/start`, { attemptId: next.attemptId })).status).toBe(200);
    await finish(next.id, next.attemptId);
  });
});

describe('limits', () => {
  it('a job may name at most 16 distinct secrets (400 before any is looked up)', async () => {
    const env = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`S${i}`, { secret: `s${i}` }]));
    const r = await alice.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, env });
    expectProblem(r, 400);
    expect(r.body.errors[0].message).toBe('a job may name at most 16 distinct secrets');
  });

  it('an account holds at most 100 secrets: the 101st name is a 409, a new version of an existing one still works', async () => {
    const carol = await pool.newAccount('consumer', 'carol');
    const results = await Promise.all(Array.from({ length: 104 }, (_, i) => carol.api.post('/v1/secrets', { name: `n${i}`, value: 'vvvv' })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(100);
    for (const r of results.filter((x) => x.status !== 201)) expectProblem(r, 409);
    expect((await carol.api.get('/v1/secrets')).body.items).toHaveLength(100);
    const kept = (await carol.api.get('/v1/secrets')).body.items[0].name as string;
    expect((await carol.api.post('/v1/secrets', { name: kept, value: 'wwww' })).body.secret.version).toBe(2);
    expect((await carol.api.del(`/v1/secrets/${kept}`)).status).toBe(204);
    expect((await carol.api.post('/v1/secrets', { name: 'another', value: 'xxxx' })).status).toBe(201);
  }, 60_000);
});
