// One tenant must not starve the others (issue 14, item 7) on DynamoDB Local: a backlog of high-priority
// jobs that no node can take (they cost nothing while queued) must not keep another tenant's placeable
// job waiting while GPUs sit free. The sweep passes over jobs no node can take, with bounded work.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { submitJob } from '../../functions/usecases/jobs';
import { SWEEP_READ_BUDGET, sweep } from '../../functions/usecases/placement';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
}, 60_000);
afterAll(async () => pool?.stop());

describe('starvation by unplaceable high-priority jobs (DynamoDB Local)', () => {
  it("places B's job in the first sweep although A queued 250 priority-100 jobs that fit no node", async () => {
    const d = pool.stack.deps;
    const a = await fundedAccount(d, 'starve-a');
    const b = await fundedAccount(d, 'starve-b');
    // A's jobs ask for GPU models nobody has, each a different set: the cheapest jobs to queue and the
    // costliest to look at, one candidate read per model set
    for (let i = 0; i < 250; i += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, k) => submitJob(d, a, SubmitJobSchema.parse({ command: ['true'], priority: 100, resources: { gpus: 1, gpuModels: [`NOPE-${i + k}`] } }))),
      );
    }
    // B's job is queued before the GPUs exist (no inline match), at the default priority
    const job = await submitJob(d, b, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: ['STARVE'] } }));
    expect(job.status).toBe('QUEUED');
    await insertNode(d, 'starve-node', { gpus: 4, model: 'STARVE', provider: 'starve-provider' });
    const reads = vi.spyOn(d.nodes, 'available');
    let sweeps = 0;
    const t0 = performance.now();
    for (; sweeps < 3 && (await d.jobs.get(job.id))!.status === 'QUEUED'; sweeps++) await sweep(d);
    const ms = performance.now() - t0;
    expect((await d.jobs.get(job.id))!.status).toBe('ASSIGNED');
    expect(sweeps).toBe(1);
    // bounded work: A's 250 model sets cost its own share of candidate reads, not one read each
    expect(reads.mock.calls.length).toBeLessThanOrEqual(SWEEP_READ_BUDGET.perAccount + 1);
    console.log(`sweep with A's 250-job backlog: ${reads.mock.calls.length} candidate reads, ${ms.toFixed(0)} ms`);
    reads.mockRestore();
  }, 180_000);
});
