// Burst end to end in the local stack's test mode: a backlog no node fits → the right launches on the
// fake EC2 → the "instances" (real agent processes started from their user data) register with their
// one-time tokens and run the jobs → idle instances are drained and terminated, their nodes deregistered.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const CATALOGUE = [
  { instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus: 1, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 1.006, spotCostPerHourUsd: 0.45 },
  { instanceType: 'g5.12xlarge', gpuModel: 'A10G', gpus: 4, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 5.672, spotCostPerHourUsd: 2.3 },
  { instanceType: 'g6.12xlarge', gpuModel: 'L4', gpus: 4, vramGb: 24, pricePerGpuHour: 1_200_000, costPerHourUsd: 4.602, spotCostPerHourUsd: 1.9 },
];

let pool: Pool;
beforeAll(async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const stateDir = mkdtempSync(path.join(tmpdir(), 'gpupool-burst-'));
  pool = await startPool({
    burst: {
      settings: { instanceTypes: CATALOGUE, waitSeconds: 0, idleMinutes: 0.1, maxInstances: 4, maxGpus: 12, dailyBudgetUsd: 50, poolRegion: 'aws' },
      tickMs: 500,
      stateDir,
      agentEnv: { GPUPOOL_DRAIN_SECONDS: '0' },
    },
  });
}, 60_000);
afterAll(() => pool?.stop(), 60_000);

describe('burst (local test mode)', () => {
  it('launches for a backlog no node fits, runs it on the new nodes, and retires them when idle', async () => {
    const consumer = await pool.newAccount('consumer', 'burst-consumer');
    await pool.admin.post(`/v1/accounts/${consumer.id}/credits`, { amount: 1_000_000_000, memo: 'burst test' });
    const submit = async (gpus: number, model: string) => {
      const r = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'echo ran on $CUDA_VISIBLE_DEVICES'], resources: { gpus, gpuModels: [model] } });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return r.body.job.id as string;
    };
    const jobs = [await submit(1, 'A10G'), await submit(1, 'A10G'), await submit(3, 'L4')];

    // the cheapest fitting types: two 1-GPU A10G boxes (cheaper than one 4-GPU box) and one 4×L4 box
    const launched = await eventually(async () => {
      const r = await pool.admin.get('/v1/burst');
      // the record is written before RunInstances: wait until all three have their instance
      return r.body.items.length >= 3 && r.body.items.every((i: { instanceId?: string }) => i.instanceId) ? r.body.items : undefined;
    }, 30_000, 'three launches');
    expect(launched.map((i: { instanceType: string }) => i.instanceType).sort()).toEqual(['g5.xlarge', 'g5.xlarge', 'g6.12xlarge']);
    for (const i of launched) expect(i.reason).toMatch(/cheapest allowed type for 1 job\(s\) waiting without capacity/);
    expect(pool.stack.burst.ec2!.instances).toHaveLength(3);

    // the instances' agents join as nodes of the burst provider and run the jobs
    for (const id of jobs) {
      await eventually(async () => {
        const r = await consumer.api.get(`/v1/jobs/${id}`);
        return r.body.job.status === 'SUCCEEDED' ? r.body.job : undefined;
      }, 60_000, `job ${id} succeeded`);
    }
    const nodes = (await pool.admin.get('/v1/nodes?limit=100')).body.items.filter((n: { providerId: string }) => n.providerId === 'burst-provider');
    expect(nodes, JSON.stringify((await pool.admin.get('/v1/burst')).body.items.map((i: any) => [i.instanceType, i.state, i.stateReason, i.reason.slice(-60)]))).toHaveLength(3);
    for (const n of nodes) expect(n.labels['gpupool.burst']).toBe('true');

    // idle past the timeout: drained, terminated, nodes deregistered, records ended
    const ended = await eventually(async () => {
      const r = await pool.admin.get('/v1/burst');
      return r.body.items.every((i: { state: string }) => i.state === 'terminated') ? r.body.items : undefined;
    }, 60_000, 'idle instances terminated');
    for (const i of ended) {
      expect(i.stateReason).toMatch(/^idle/);
      expect(i.costSoFarUsd).toBeGreaterThan(0);
    }
    expect(pool.stack.burst.ec2!.instances.every((i) => i.state === 'terminated')).toBe(true);
    const after = (await pool.admin.get('/v1/nodes?limit=100')).body.items.filter((n: { providerId: string }) => n.providerId === 'burst-provider');
    expect(after.every((n: { status: string }) => n.status === 'DEREGISTERED')).toBe(true);
  }, 180_000);

  it('GET /v1/burst is for admins only; bad input is a 400 problem', async () => {
    const consumer = await pool.newAccount('consumer', 'nosy');
    expect((await consumer.api.get('/v1/burst')).status).toBe(403);
    const bad = await pool.admin.get('/v1/burst?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
  });
});
