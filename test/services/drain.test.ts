// A provider drains a node that runs a service's replica (docs/services.md, Control plane): the
// replacement is placed at once on another node, and the drained node's replica is stopped only once
// the replacement is ready, so maintenance costs the service no ready replica. DynamoDB Local through
// the API; the nodes are driven by hand with their node keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../functions/domain/model';
import { startPool, type Pool } from '../helpers/local-pool';
import { manualAgent, registerNode } from '../api/helpers';

let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
const nodes = new Map<string, Awaited<ReturnType<typeof manualAgent>>>();

beforeAll(async () => {
  pool = await startPool();
  provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer', 'drainer');
  for (let i = 0; i < 3; i++) {
    const r = await registerNode(provider.api, `drain-n${i}`, 'T4', 1);
    const n = await manualAgent(pool.stack.apiUrl, r.key, `boot-drain-${i}`);
    await n.api.post('/v1/agent/session', { bootId: `boot-drain-${i}`, probeUrl: `http://127.0.0.${i + 1}:9${i}00/probe` });
    nodes.set(n.nodeId, n);
  }
}, 120_000);

afterAll(async () => {
  for (const n of nodes.values()) n.stop();
  await pool?.stop();
});

const replicas = async (id: string): Promise<Job[]> => {
  const s = (await pool.stack.deps.services.get(id))!;
  return (await Promise.all(s.replicaIds.map((r) => pool.stack.deps.jobs.get(r)))).filter((j): j is Job => !!j);
};
const liveAttempt = (j: Job) => j.attempts.find((a) => a.id === j.liveAttemptId)!;

/** starts the replica on its node (if only assigned) and reports it ready there */
async function startReady(j: Job): Promise<void> {
  const a = liveAttempt(j);
  const n = nodes.get(a.nodeId)!;
  if (a.status === 'ASSIGNED') expect((await n.api.post(`/v1/agent/jobs/${j.id}/start`, { attemptId: a.id })).status).toBe(200);
  expect((await n.api.post('/v1/agent/heartbeat', { running: [a.id], services: [{ attemptId: a.id, ready: true }] })).status).toBe(200);
}

describe('draining a node that runs a replica', () => {
  it('places the replacement at once and stops the drained replica only when the replacement is ready', async () => {
    const c = await consumer.api.post('/v1/services', { name: 'web', command: ['serve'], port: 8000, replicas: { min: 2, max: 2 }, resources: { gpus: 1, gpuModels: ['T4'] } });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    const id = c.body.service.id;
    const first = await replicas(id);
    expect(first).toHaveLength(2);
    for (const j of first) await startReady(j);
    expect((await pool.stack.deps.services.get(id))!.status).toBe('RUNNING');

    const victim = first[0];
    expect((await provider.api.patch(`/v1/nodes/${victim.nodeId}`, { drain: true })).status).toBe(200);
    // the PATCH itself reconciled: a third replica is placed on the third node, the drained one still serves
    const during = await replicas(id);
    expect(during).toHaveLength(3);
    const replacement = during.find((j) => !first.some((f) => f.id === j.id))!;
    expect(replacement.status).toBe('ASSIGNED');
    expect(first.map((j) => j.nodeId)).not.toContain(replacement.nodeId);
    expect(during.find((j) => j.id === victim.id)!.cancelRequested).toBeFalsy();

    // the replacement becomes ready (its heartbeat reconciles): now the drained node's replica is retired
    await startReady(replacement);
    const after = await replicas(id);
    const retired = after.find((j) => j.id === victim.id)!;
    expect(retired.cancelRequested).toBeGreaterThan(0);
    expect(after.filter((j) => j.id !== victim.id).every((j) => !j.cancelRequested && j.status === 'RUNNING')).toBe(true);
  }, 60_000);
});
