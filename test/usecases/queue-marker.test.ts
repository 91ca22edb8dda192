// The account queue marker on submit: written only when the inline match leaves the job waiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { submitJob } from '../../functions/usecases/jobs';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, checkerMs: 3_600_000 });
}, 60_000);
afterAll(async () => pool?.stop());

const consumer = (id: string): Promise<Caller> => fundedAccount(pool.stack.deps, id);

describe('queue marker on submit', () => {
  it('marks an account whose job waits, and not one whose job was placed at once', async () => {
    const d = pool.stack.deps;
    await insertNode(d, 'qm-node', { model: 'QMGPU', provider: 'qm-provider' });
    const [waiter, placed] = await Promise.all([consumer('qm-waiter'), consumer('qm-placed')]);
    const w = await submitJob(d, waiter, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: ['NOSUCHGPU'] } }));
    const p = await submitJob(d, placed, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: ['QMGPU'] } }));
    expect(w.status).toBe('QUEUED');
    expect(p.status).toBe('ASSIGNED');
    const marked = (await d.jobs.accounts.list(100)).map((a) => a.accountId);
    expect(marked).toContain('qm-waiter');
    expect(marked).not.toContain('qm-placed');
  });
});
