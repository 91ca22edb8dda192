// The lifecycle end to end, as a user drives it: the local stack, two real agent processes, jobs that
// succeed and fail, their logs, cancel, and a job that waits until a node frees up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;

async function waitFinal(id: string, timeoutMs = 30_000) {
  return eventually(async () => {
    const r = await consumer.api.get(`/v1/jobs/${id}`);
    return FINAL.includes(r.body.job?.status) ? r.body.job : undefined;
  }, timeoutMs, `job ${id} to end`);
}

beforeAll(async () => {
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  await Promise.all([
    pool.addAgent({ name: 'e2e-a', gpus: '2xA100-80', providerKey: provider.key }),
    pool.addAgent({ name: 'e2e-b', gpus: '1xH100-80', providerKey: provider.key }),
  ]);
}, 90_000);

afterAll(async () => {
  await pool?.stop();
});

describe('job lifecycle on the local stack', () => {
  it('runs 20 jobs across two agents; each ends in the right state with its output', async () => {
    const specs = Array.from({ length: 20 }, (_, i) => ({
      fail: i % 4 === 3,
      body: {
        name: `job-${i}`,
        command: ['sh', '-c', i % 4 === 3 ? `echo failing ${i}; exit ${(i % 7) + 1}` : `echo out ${i}; echo err ${i} >&2`],
        resources: { gpus: 1 },
      },
    }));
    const submitted = await Promise.all(specs.map((s) => consumer.api.post('/v1/jobs', s.body)));
    for (const r of submitted) expect(r.status).toBe(202);
    const jobs = await Promise.all(submitted.map((r) => waitFinal(r.body.job.id)));
    for (const [i, job] of jobs.entries()) {
      const s = specs[i];
      expect(job.status, JSON.stringify(job)).toBe(s.fail ? "FAILED" : "SUCCEEDED");
      expect(job.exitCode).toBe(s.fail ? (i % 7) + 1 : 0);
      if (s.fail) expect(job.reason).toBe('EXIT_NONZERO');
      expect(job.attempts).toHaveLength(1);
      expect(job.attempts[0]).toMatchObject({ status: job.status, exitCode: job.exitCode });
      expect(job.startedAt).toBeGreaterThanOrEqual(job.createdAt);
      expect(job.finishedAt).toBeGreaterThanOrEqual(job.startedAt);
      const logs = await consumer.api.get(`/v1/jobs/${job.id}/logs`);
      const texts = logs.body.items.map((l: { text: string }) => l.text);
      expect(texts).toContain(s.fail ? `failing ${i}` : `out ${i}`);
      if (!s.fail) expect(logs.body.items.find((l: { text: string }) => l.text === `err ${i}`)?.stream).toBe('stderr');
    }
    // both nodes took work, and every GPU came back
    expect(new Set(jobs.map((j) => j.nodeId)).size).toBe(2);
    const nodes = await pool.stack.deps.nodes.available(undefined, 10);
    expect(nodes.map((n) => n.freeGpus).sort()).toEqual([1, 2]);
  }, 120_000);

  it('keeps a job QUEUED with a reason while nothing fits, and places it when a node frees up', async () => {
    const blocker = await consumer.api.post('/v1/jobs', { command: ['sleep', '3'], resources: { gpus: 2, gpuModels: ['A100'] } });
    expect(blocker.body.job.status).toBe('ASSIGNED');
    const waiting = await consumer.api.post('/v1/jobs', { command: ['echo', 'finally'], resources: { gpus: 2, gpuModels: ['A100'] } });
    expect(waiting.body.job.status).toBe('QUEUED');
    expect(waiting.body.job.pendingReason).toMatch(/no nodes with free capacity|fewer than 2 free GPUs/);
    const done = await waitFinal(waiting.body.job.id);
    expect(done.status).toBe('SUCCEEDED');
    const first = await waitFinal(blocker.body.job.id);
    expect(done.startedAt).toBeGreaterThanOrEqual(first.finishedAt);
  }, 60_000);

  it('cancels a running job: the process stops and the job ends CANCELLED', async () => {
    const r = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'echo started; sleep 60'], resources: { gpus: 1, gpuModels: ['H100'] } });
    const id = r.body.job.id;
    await eventually(async () => ((await consumer.api.get(`/v1/jobs/${id}`)).body.job.status === 'RUNNING' ? true : undefined));
    const c = await consumer.api.del(`/v1/jobs/${id}`);
    expect(c.status).toBe(202);
    const job = await waitFinal(id, 15_000);
    expect(job).toMatchObject({ status: 'CANCELLED', reason: 'CANCELLED_BY_USER' });
    // cancelling again is fine; the job stays cancelled
    expect((await consumer.api.del(`/v1/jobs/${id}`)).status).toBe(202);
  }, 30_000);

  it('cancels a queued job at once', async () => {
    const r = await consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 8 } });
    expect(r.body.job.status).toBe('QUEUED');
    const c = await consumer.api.del(`/v1/jobs/${r.body.job.id}`);
    expect(c.body.job).toMatchObject({ status: 'CANCELLED', reason: 'CANCELLED_BY_USER' });
  });

  it('hides one consumer\'s jobs from another', async () => {
    const other = await pool.newAccount('consumer', 'mallory');
    const mine = await consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 8 } });
    const id = mine.body.job.id;
    expect((await other.api.get(`/v1/jobs/${id}`)).status).toBe(404);
    expect((await other.api.del(`/v1/jobs/${id}`)).status).toBe(404);
    expect((await other.api.get(`/v1/jobs/${id}/logs`)).status).toBe(404);
    expect((await other.api.get('/v1/jobs')).body.items).toEqual([]);
    await consumer.api.del(`/v1/jobs/${id}`);
  });
});
