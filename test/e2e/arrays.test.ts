// Job arrays end to end (issue 20): one POST creates N jobs sharing an array id, each told its index in
// GPUPOOL_ARRAY_INDEX; the local stack over HTTP with a real agent. 100 jobs run and each index is seen
// exactly once; bad sizes are refused with nothing created; two concurrent arrays against a queue limit
// are admitted all or none; cancelling the array id cancels every member and gives the queue back.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;

beforeAll(async () => {
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  await pool.addAgent({ name: 'arrays-a', gpus: '8xA100-80', providerKey: provider.key });
}, 90_000);
afterAll(async () => pool?.stop());

async function allJobs(api: typeof consumer.api, arrayId: string) {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const r: { status: number; body: any } = await api.get(`/v1/jobs?arrayId=${arrayId}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
  } while (cursor);
  return items;
}

describe('job arrays on the local stack', () => {
  it('100 jobs from one request: each index runs exactly once, told its array id and size', async () => {
    const out = path.join(pool.dir, 'indices');
    const r = await consumer.api.post('/v1/jobs', {
      command: ['sh', '-c', `echo "$GPUPOOL_ARRAY_ID $GPUPOOL_ARRAY_SIZE $GPUPOOL_ARRAY_INDEX" >> ${out}`],
      resources: { gpus: 1 },
      array: { size: 100 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const { id, size, jobIds } = r.body.array;
    expect(size).toBe(100);
    expect(jobIds).toHaveLength(100);
    expect(new Set(jobIds).size).toBe(100);
    const jobs = await eventually(async () => {
      const items = await allJobs(consumer.api, id);
      return items.length === 100 && items.every((j) => j.status === 'SUCCEEDED') ? items : undefined;
    }, 240_000, 'all 100 array jobs to succeed');
    expect(jobs.map((j) => j.array.index)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(jobs.every((j) => j.array.id === id && j.array.size === 100)).toBe(true);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(100);
    const indices = lines.map((l) => {
      const [aid, n, i] = l.split(' ');
      expect(aid).toBe(id);
      expect(n).toBe('100');
      return Number(i);
    });
    expect(indices.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // the variables are the control plane's: a consumer cannot set them
    const spoof = await consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, env: { GPUPOOL_ARRAY_INDEX: '7' } });
    expect(spoof.status).toBe(400);
  }, 300_000);

  it('refuses sizes 0, 1001, 1.5 and "10" with a 400 problem and creates nothing', async () => {
    const c = await pool.newAccount('consumer', 'bad-sizes');
    for (const size of [0, 1001, 1.5, '10', -1]) {
      const r = await c.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, array: { size } });
      expect(r.status, JSON.stringify(size)).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    }
    const bogus = await c.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, array: { size: 2, extra: 1 } });
    expect(bogus.status).toBe(400);
    expect((await c.api.get('/v1/jobs')).body.items).toHaveLength(0);
    expect((await c.api.get(`/v1/accounts/${c.id}/limits`)).body.usage.queuedJobs).toBe(0);
    expect((await c.api.get('/v1/jobs?arrayId=nosuch')).status).toBe(404);
  }, 30_000);

  it('two concurrent arrays of 100 against a queue limit of 150: one admitted whole, the other refused whole; cancelling the array id cancels all', async () => {
    const c = await pool.newAccount('consumer', 'limited');
    expect((await pool.admin.patch(`/v1/accounts/${c.id}/limits`, { maxQueuedJobs: 150 })).status).toBe(200);
    // never placed (no node has that model): they stay queued and counted
    const spec = { command: ['true'], resources: { gpus: 1, gpuModels: ['NONE'] }, array: { size: 100 } };
    const rs = await Promise.all([c.api.post('/v1/jobs', spec), c.api.post('/v1/jobs', spec)]);
    expect(rs.map((r) => r.status).sort()).toEqual([202, 403]);
    const ok = rs.find((r) => r.status === 202)!;
    expect(rs.find((r) => r.status === 403)!.body.detail).toMatch(/at most 150 jobs waiting/);
    expect((await c.api.get(`/v1/accounts/${c.id}/limits`)).body.usage.queuedJobs).toBe(100);
    const listed = await allJobs(c.api, ok.body.array.id);
    expect(listed).toHaveLength(100);
    // another account neither lists nor cancels it
    const other = await pool.newAccount('consumer', 'other');
    expect((await other.api.get(`/v1/jobs?arrayId=${ok.body.array.id}`)).status).toBe(404);
    expect((await other.api.del(`/v1/jobs/${ok.body.array.id}`)).status).toBe(404);
    const del = await c.api.del(`/v1/jobs/${ok.body.array.id}`);
    expect(del.status, JSON.stringify(del.body)).toBe(202);
    expect(del.body.array).toEqual({ id: ok.body.array.id, size: 100, cancelled: 100 });
    expect((await allJobs(c.api, ok.body.array.id)).every((j) => j.status === 'CANCELLED')).toBe(true);
    expect((await c.api.get(`/v1/accounts/${c.id}/limits`)).body.usage.queuedJobs).toBe(0);
    expect(existsSync(pool.dir)).toBe(true);
  }, 120_000);
});
