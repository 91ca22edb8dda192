// The API's shape on the local stack: the OpenAPI 3.1 document (checked by an independent validator,
// and against the route table both ways), and idempotent creating POSTs under concurrency.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { ROUTES } from '../../functions/http/routes';
import { client } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, itemCounts, nodeBody, snapshotTables } from './helpers';

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let provider: typeof consumer;

beforeAll(async () => {
  pool = await startPool();
  [consumer, provider] = await Promise.all([pool.newAccount('consumer', 'shape-c'), pool.newAccount('provider', 'shape-p')]);
});
afterAll(async () => {
  await pool?.stop();
});

describe('GET /v1/openapi.json', () => {
  let doc: any;
  beforeAll(async () => {
    const r = await client(pool.stack.apiUrl).get('/v1/openapi.json');
    expect(r.status).toBe(200);
    doc = r.body;
  });

  it('is a valid OpenAPI 3.1 document (independent validator)', async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc));
    expect(res.errors ?? [], JSON.stringify(res.errors, null, 2)?.slice(0, 2000)).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('has every route of ROUTES, and nothing else', () => {
    const inDoc = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'].includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = ROUTES.map((r) => `${r.method} ${r.path}`);
    expect([...inDoc].sort()).toEqual([...served].sort());
    expect(new Set(inDoc).size).toBe(inDoc.length);
  });

  it('declares the x-api-key scheme, applies it to keyed routes and exempts the public ones', () => {
    expect(doc.components.securitySchemes.apiKey).toEqual({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    expect(doc.security).toEqual([{ apiKey: [] }]);
    for (const r of ROUTES) {
      const op = doc.paths[r.path][r.method.toLowerCase()];
      if (r.roles.length === 0) expect(op.security, `${r.method} ${r.path}`).toEqual([]);
      else expect(op.security ?? doc.security, `${r.method} ${r.path}`).toEqual([{ apiKey: [] }]);
    }
  });

  it('answers every error with the problem schema, and that schema has the RFC 9457 members', () => {
    const problem = doc.components.schemas.Problem;
    expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail']));
    expect(Object.keys(problem.properties)).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'errors']));
    let refs = 0;
    for (const r of ROUTES) {
      const op = doc.paths[r.path][r.method.toLowerCase()];
      const errors = Object.entries(op.responses as Record<string, any>).filter(([code]) => Number(code) >= 400);
      expect(errors.length, `${r.method} ${r.path}`).toBeGreaterThan(0);
      for (const [code, res] of errors) {
        expect(res.content['application/problem+json'].schema, `${r.method} ${r.path} ${code}`).toEqual({ $ref: '#/components/schemas/Problem' });
        refs++;
      }
      if (r.roles.length > 0) expect(Object.keys(op.responses), `${r.method} ${r.path}`).toEqual(expect.arrayContaining(['400', '401', '403', '404', '429']));
      expect(Object.keys(op.responses).some((c) => Number(c) < 300), `${r.method} ${r.path} has a success response`).toBe(true);
    }
    expect(refs).toBeGreaterThan(ROUTES.length);
  });

  it('takes its request bodies from the zod schemas the handlers validate with', () => {
    const submit = doc.paths['/v1/jobs'].post.requestBody.content['application/json'].schema;
    expect(submit).toEqual(z.toJSONSchema(SubmitJobSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }));
    expect(submit.additionalProperties).toBe(false); // unknown fields are refused
    expect(submit.properties.resources.properties.gpus).toMatchObject({ minimum: 1, maximum: 64 }); // numbers are bounded
  });
});

describe('Idempotency-Key', () => {
  async function parallel(api: ReturnType<typeof client>, path: string, body: unknown, key: string, n = 20) {
    return Promise.all(Array.from({ length: n }, () => api.post(path, body, { 'idempotency-key': key })));
  }

  it('20 parallel identical POST /v1/jobs create one job and all return the same body', async () => {
    const body = { name: 'idem', command: ['true'], resources: { gpus: 1, gpuModels: ['B200'] } };
    const before = (await consumer.api.get('/v1/jobs?limit=100')).body.items.length;
    const answers = await parallel(consumer.api, '/v1/jobs', body, 'submit-1');
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(202);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true').length).toBe(19);
    const jobs = (await consumer.api.get('/v1/jobs?limit=100')).body.items;
    expect(jobs.length).toBe(before + 1);
    expect(jobs.filter((j: { name?: string }) => j.name === 'idem').map((j: { id: string }) => j.id)).toEqual([answers[0].body.job.id]);
    // a later retry gets the first answer too
    const again = await consumer.api.post('/v1/jobs', body, { 'idempotency-key': 'submit-1' });
    expect(again.body).toEqual(answers[0].body);
  });

  it('the same key with another body is a 422 problem, and creates nothing', async () => {
    const before = itemCounts(await snapshotTables(pool.stack));
    const r = await consumer.api.post('/v1/jobs', { command: ['false'], resources: { gpus: 1, gpuModels: ['B200'] } }, { 'idempotency-key': 'submit-1' });
    expectProblem(r, 422);
    expect(itemCounts(await snapshotTables(pool.stack))).toEqual(before);
  });

  it('keys are per account: another account with the same key gets its own job', async () => {
    const other = await pool.newAccount('consumer', 'shape-c2');
    const body = { name: 'idem', command: ['true'], resources: { gpus: 1, gpuModels: ['B200'] } };
    const mine = await consumer.api.post('/v1/jobs', body, { 'idempotency-key': 'shared-key' });
    const theirs = await other.api.post('/v1/jobs', body, { 'idempotency-key': 'shared-key' });
    expect(mine.status).toBe(202);
    expect(theirs.status).toBe(202);
    expect(theirs.body.job.id).not.toBe(mine.body.job.id);
  });

  /** The first answer carries the key; replays carry the same object with the key withheld (shown once). */
  function expectOneKeyShownOnce(answers: { body: Record<string, unknown> }[], keyField: 'apiKey' | 'nodeKey', objectField: 'account' | 'node') {
    const withKey = answers.filter((a) => typeof a.body[keyField] === 'string');
    expect(withKey).toHaveLength(1);
    for (const a of answers.filter((x) => x !== withKey[0])) expect(a.body).toMatchObject({ [keyField]: null, secretShownOnce: true });
    expect(new Set(answers.map((a) => JSON.stringify(a.body[objectField]))).size).toBe(1);
  }

  it('works for POST /v1/accounts: one account, one key, the same answer', async () => {
    const before = itemCounts(await snapshotTables(pool.stack));
    const answers = await parallel(pool.admin, '/v1/accounts', { name: 'idem-account', role: 'consumer' }, 'account-1');
    for (const a of answers) expect(a.status).toBe(201);
    expectOneKeyShownOnce(answers, 'apiKey', 'account');
    const after = itemCounts(await snapshotTables(pool.stack));
    expect(after.accounts).toBe(before.accounts + 1);
    expect(after.keys).toBe(before.keys + 1);
    expectProblem(await pool.admin.post('/v1/accounts', { name: 'idem-account', role: 'provider' }, { 'idempotency-key': 'account-1' }), 422);
  });

  it('works for POST /v1/nodes: one node, one node key, the same answer', async () => {
    const before = itemCounts(await snapshotTables(pool.stack));
    const body = nodeBody('idem-node', 'T4', 2);
    const answers = await parallel(provider.api, '/v1/nodes', body, 'node-1');
    for (const a of answers) expect(a.status).toBe(201);
    expectOneKeyShownOnce(answers, 'nodeKey', 'node');
    const after = itemCounts(await snapshotTables(pool.stack));
    expect(after.nodes).toBe(before.nodes + 1);
    expect(after.keys).toBe(before.keys + 1);
    expectProblem(await provider.api.post('/v1/nodes', { ...body, pricePerGpuHour: 7 }, { 'idempotency-key': 'node-1' }), 422);
  });

  it('refuses a malformed key, and lets a failed request be retried with the same key', async () => {
    expectProblem(await consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 } }, { 'idempotency-key': 'no spaces allowed' }), 400);
    // a 400 releases the key: the corrected body may use it
    expectProblem(await consumer.api.post('/v1/jobs', { command: [], resources: { gpus: 1 } }, { 'idempotency-key': 'retry-1' }), 400);
    const ok = await consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1, gpuModels: ['B200'] } }, { 'idempotency-key': 'retry-1' });
    expect(ok.status).toBe(202);
  });
});

describe('pagination', () => {
  const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

  it('pages newest first with opaque cursors; a foreign or forged cursor is a 400, never a 500', async () => {
    const [mine, theirs] = await Promise.all([pool.newAccount('consumer', 'pager'), pool.newAccount('consumer', 'peeker')]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await mine.api.post('/v1/jobs', { name: `p${i}`, command: ['true'], resources: { gpus: 1, gpuModels: ['B200'] } })).body.job.id);
    const first = await mine.api.get('/v1/jobs?limit=2');
    expect(first.body.items.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await mine.api.get(`/v1/jobs?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((j: { id: string }) => j.id)).toEqual([ids[0]]);
    expect(second.body.nextCursor).toBeNull();

    // another account cannot read on with my cursor
    expectProblem(await theirs.api.get(`/v1/jobs?cursor=${first.body.nextCursor}`), 400);
    const decoded = JSON.parse(Buffer.from(first.body.nextCursor, 'base64url').toString());
    const forged = [
      { accountId: mine.id },
      { ...decoded, extra: 'x' },
      { ...decoded, id: '' },
      { ...decoded, createdAt: 'yesterday' },
      [decoded],
      'not json at all',
    ];
    for (const f of forged) expectProblem(await mine.api.get(`/v1/jobs?cursor=${typeof f === 'string' ? f : cursorOf(f)}`), 400, JSON.stringify(f));
    expectProblem(await provider.api.get(`/v1/nodes?cursor=${cursorOf({ providerId: provider.id })}`), 400);
  });

  it('an admin pages through every node with a scan', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: any = await pool.admin.get(`/v1/nodes?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((n: { id: string }) => n.id));
      cursor = r.body.nextCursor;
    } while (cursor);
    const total = itemCounts(await snapshotTables(pool.stack)).nodes;
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
    expectProblem(await pool.admin.get(`/v1/nodes?cursor=${cursorOf({ id: seen[0], providerId: 'x' })}`), 400);
  });
});
