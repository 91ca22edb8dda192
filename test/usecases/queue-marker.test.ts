// The account queue marker on submit: written only when the inline match leaves the job waiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintPosting } from '../../functions/domain/ledger/postings';
import type { Caller, Node } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { submitJob } from '../../functions/usecases/jobs';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, checkerMs: 3_600_000 });
}, 60_000);
afterAll(async () => pool?.stop());

async function consumer(id: string): Promise<Caller> {
  const d = pool.stack.deps;
  await d.accounts.create({ id, name: id, role: 'consumer', createdAt: Date.now(), available: 0, held: 0, staked: 0 });
  await d.ledger.post([mintPosting(`mint/${id}`, id, 1_000_000_000_000, Date.now())]);
  return { accountId: id, role: 'consumer', keyId: 'k' };
}

describe('queue marker on submit', () => {
  it('marks an account whose job waits, and not one whose job was placed at once', async () => {
    const d = pool.stack.deps;
    const node: Node = {
      id: 'qm-node', providerId: 'qm-provider', name: 'qm-node', status: 'ONLINE', region: 'local', gpuModel: 'QMGPU', vramGb: 80, totalGpus: 1, freeGpus: 1,
      gpus: [{ index: 0, uuid: 'GPU-qm-0', model: 'QMGPU', vramGb: 80 }], pricePerGpuHour: 1_000_000, labels: {}, reputation: 0.5,
      queueUrl: await d.queues.ensure('qm-node'), createdAt: Date.now(), lastSeenAt: Date.now(), heartbeatSeconds: 3600,
    };
    await d.nodes.create(node);
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
