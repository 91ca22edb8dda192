// Tenant isolation on DynamoDB Local (issue 14, item 6): with `allowProcessRuntime` off, as on AWS, no
// consumer work goes to a node whose agent runs jobs as plain processes (they could read each other's
// /proc/<pid>/environ and the node key file); the job says why it waits, and offers say each runtime.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { submitJob } from '../../functions/usecases/jobs';
import { offers } from '../../functions/usecases/offers';
import { sweep } from '../../functions/usecases/placement';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, settings: { allowProcessRuntime: false } });
}, 60_000);
afterAll(async () => pool?.stop());

const spec = (model: string) => SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: [model] } });

describe('process-runtime nodes in a pool of strangers (allowProcessRuntime off)', () => {
  it('places no consumer work on a process-runtime node or on one that did not say, and says why the job waits', async () => {
    const d = pool.stack.deps;
    const consumer = await fundedAccount(d, 'rt-consumer');
    // the cheapest nodes are the unisolated ones: price alone would pick them
    await insertNode(d, 'rt-proc', { model: 'RT', runtime: 'process', price: 1 });
    await insertNode(d, 'rt-old', { model: 'RT', price: 2 });
    const waiting = await submitJob(d, consumer, spec('RT'));
    expect(waiting.status).toBe('QUEUED');
    expect(waiting.pendingReason).toBe('0 of 2 nodes fit: 2 process runtime (jobs not isolated; this pool places work on docker nodes only)');
    await sweep(d);
    expect((await d.jobs.get(waiting.id))!.status).toBe('QUEUED');
    // a docker node comes: the job goes there, dearer as it is
    await insertNode(d, 'rt-docker', { model: 'RT', runtime: 'docker', price: 5_000_000 });
    await sweep(d);
    expect(await d.jobs.get(waiting.id)).toMatchObject({ status: 'ASSIGNED', nodeId: 'rt-docker' });
    // and a new job skips the free process nodes for the docker one at submit, or waits
    expect((await submitJob(d, consumer, spec('RT'))).status).toBe('QUEUED');
  }, 120_000);

  it('offers list only docker capacity here and say which runtime it has', async () => {
    const d = pool.stack.deps;
    await insertNode(d, 'rt-offer-docker', { model: 'RTO', runtime: 'docker' });
    await insertNode(d, 'rt-offer-proc', { model: 'RTO', runtime: 'process' });
    expect(await offers(d, { gpuModel: 'RTO' })).toEqual([expect.objectContaining({ gpuModel: 'RTO', runtime: 'docker', nodes: 1, freeGpus: 1 })]);
    // where the operator allows process nodes (the local stack), they are offered, labelled as such
    const mixed = await offers({ ...d, settings: { ...d.settings, allowProcessRuntime: true } }, { gpuModel: 'RTO' });
    expect(mixed.map((o) => o.runtime).sort()).toEqual(['docker', 'process']);
  }, 60_000);
});
