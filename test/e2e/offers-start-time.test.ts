// GET /v1/offers shows, per GPU model and region, how long recent jobs waited from submit to running
// (issue 20): the median of the jobs' first starts on the offer's nodes over the last 24 h. On the local
// stack with a real agent: none before any job ran (null), then exactly the median of what the jobs'
// own views say (startedAt − createdAt); another model's offer is not touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;

beforeAll(async () => {
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  await pool.addAgent({ name: 'st-a100', gpus: '2xA100-80', providerKey: provider.key });
  await pool.addAgent({ name: 'st-l4', gpus: '1xL4-24', providerKey: provider.key });
}, 90_000);
afterAll(async () => pool?.stop());

const offer = async (model: string) => ((await consumer.api.get('/v1/offers')).body.items as any[]).find((o) => o.gpuModel === model);

describe('submit-to-running time on offers', () => {
  it('null before any start; then the median of the jobs’ own waits', async () => {
    expect(await offer('A100')).toMatchObject({ recentStarts: 0, p50SubmitToRunningMs: null });
    const ids: string[] = [];
    // three jobs, the third waits for a GPU: their waits differ
    for (const s of ['1', '1', '0']) ids.push((await consumer.api.post('/v1/jobs', { command: ['sh', '-c', `sleep ${s}`], resources: { gpus: 1, gpuModels: ['A100'] } })).body.job.id);
    const jobs = await eventually(async () => {
      const all = await Promise.all(ids.map(async (id) => (await consumer.api.get(`/v1/jobs/${id}`)).body.job));
      return all.every((j) => j.status === 'SUCCEEDED') ? all : undefined;
    }, 30_000, 'the jobs to succeed');
    const waits = jobs.map((j) => j.startedAt - j.createdAt).sort((a, b) => a - b);
    const o = await eventually(async () => {
      const x = await offer('A100');
      return x?.recentStarts === 3 ? x : undefined;
    }, 10_000, 'the A100 offer with its starts');
    expect(o.p50SubmitToRunningMs).toBe(waits[1]);
    expect(await offer('L4')).toMatchObject({ recentStarts: 0, p50SubmitToRunningMs: null });
  }, 60_000);
});
