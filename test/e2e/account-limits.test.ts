// Per-account limits end to end (issue 14, item 7): the local stack over HTTP with a real agent. Only an
// admin sets limits; the account reads its own; a hostile consumer's priority above its cap, a burst of
// submits past its queue limit and jobs past its GPU limit are refused or wait, and the jobs that run
// under a 1-GPU limit never overlap although the node has 4 GPUs free.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let other: typeof consumer;

beforeAll(async () => {
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  other = await pool.newAccount('consumer', 'other');
  await pool.addAgent({ name: 'limits-a', gpus: '4xA100-80', providerKey: provider.key });
}, 90_000);
afterAll(async () => pool?.stop());

describe('account limits on the local stack', () => {
  it('an admin sets limits; the account reads its own; nobody else sets or reads them', async () => {
    const set = await pool.admin.patch(`/v1/accounts/${consumer.id}/limits`, { maxPriority: 5, maxQueuedJobs: 3, maxGpus: 1 });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.limits).toEqual({ maxPriority: 5, maxQueuedJobs: 3, maxGpus: 1, maxSpendPerDay: null });
    expect((await consumer.api.patch(`/v1/accounts/${consumer.id}/limits`, { maxGpus: 64 })).status).toBe(403);
    expect((await other.api.get(`/v1/accounts/${consumer.id}/limits`)).status).toBe(404);
    const mine = await consumer.api.get(`/v1/accounts/${consumer.id}/limits`);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ accountId: consumer.id, limits: { maxGpus: 1 }, set: { maxGpus: true, maxSpendPerDay: false }, usage: { queuedJobs: 0, gpusInUse: 0 } });
    // bad input: 400, nothing changes
    for (const body of [{}, { maxGpus: -1 }, { maxGpus: 1.5 }, { maxPriority: 101 }, { bogus: 1 }]) {
      const r = await pool.admin.patch(`/v1/accounts/${consumer.id}/limits`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    }
    expect((await consumer.api.get(`/v1/accounts/${consumer.id}/limits`)).body.limits).toEqual(set.body.limits);
  }, 30_000);

  it('refuses a priority above the cap with a 403 problem and creates nothing', async () => {
    const r = await consumer.api.post('/v1/jobs', { command: ['true'], priority: 50, resources: { gpus: 1 } });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ type: 'https://gpupool.dev/problems/forbidden', status: 403 });
    expect(r.body.detail).toMatch(/priority 50 is above this account's highest allowed priority 5/);
    expect((await consumer.api.get('/v1/jobs')).body.items).toHaveLength(0);
  }, 30_000);

  it('10 concurrent submits against a queue limit of 3: three accepted, seven refused', async () => {
    const rs = await Promise.all(Array.from({ length: 10 }, () => consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1, gpuModels: ['NONE'] } })));
    expect(rs.filter((r) => r.status === 202)).toHaveLength(3);
    const refused = rs.filter((r) => r.status === 403);
    expect(refused).toHaveLength(7);
    expect(refused[0].body.detail).toMatch(/at most 3 jobs waiting/);
    for (const r of rs.filter((x) => x.status === 202)) expect((await consumer.api.del(`/v1/jobs/${r.body.job.id}`)).status).toBe(202);
    expect((await consumer.api.get(`/v1/accounts/${consumer.id}/limits`)).body.usage.queuedJobs).toBe(0);
  }, 30_000);

  it('under a 1-GPU limit three jobs run one at a time on a 4-GPU node, the waiting ones saying why', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'sleep 1; echo done'], resources: { gpus: 1 } });
      expect(r.status).toBe(202);
      ids.push(r.body.job.id);
    }
    const waiting = await consumer.api.get(`/v1/jobs/${ids[2]}`);
    expect(waiting.body.job.status).toBe('QUEUED');
    expect(waiting.body.job.pendingReason).toMatch(/account limit: 1 of the account's 1 GPUs are in use/);
    // another tenant is not held up: its job runs beside them
    const o = await other.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 } });
    expect(o.body.job.status).toBe('ASSIGNED');
    const jobs = await Promise.all(
      ids.map((id) =>
        eventually(async () => {
          const j = (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
          return j?.status === 'SUCCEEDED' ? j : undefined;
        }, 60_000, `job ${id} to succeed`),
      ),
    );
    // each attempt held its GPU from assignment to its end: no two overlap
    const spans = jobs.map((j) => [j.attempts[0].assignedAt, j.attempts[0].finishedAt] as [number, number]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
    expect((await consumer.api.get(`/v1/accounts/${consumer.id}/limits`)).body.usage).toMatchObject({ queuedJobs: 0, gpusInUse: 0 });
    const audit = await pool.admin.get('/v1/ledger/audit');
    expect(audit.body.ok).toBe(true);
  }, 90_000);
});
