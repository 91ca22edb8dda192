// The pull phase through the agent API on the local stack, with a node driven by hand: what a node may
// report about its image pull (on log requests and on finish), what the consumer sees, what is charged,
// and whose fault a failed pull is — decided by the control plane from the type, not by the node's outcome.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, manualAgent, registerNode } from './helpers';

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let node: Awaited<ReturnType<typeof manualAgent>>;
let other: Awaited<ReturnType<typeof manualAgent>>;
const DIGEST = `sha256:${'d'.repeat(64)}`;
const line = (seq: number, text = `line ${seq}`) => ({ seq, stream: 'system', text, ts: Date.now() });

const job = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
/** a job placed on the hand-driven node and started there: its id and attempt */
async function started(): Promise<{ id: string; attemptId: string }> {
  const r = await consumer.api.post('/v1/jobs', { image: 'ghcr.io/acme/train:1', command: ['true'], resources: { gpus: 1, gpuModels: ['T4'] }, maxAttempts: 3 });
  expect(r.status).toBe(202);
  const id = r.body.job.id as string;
  const attemptId = await eventually(async () => (await job(id)).attempts[0]?.id as string | undefined, 15_000, 'placement');
  expect((await node.api.post(`/v1/agent/jobs/${id}/start`, { attemptId })).status).toBe(200);
  return { id, attemptId };
}
const logs = (id: string, body: unknown) => node.api.post(`/v1/agent/jobs/${id}/logs`, body);

beforeAll(async () => {
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  const p2 = await pool.newAccount('provider', 'provider2');
  consumer = await pool.newAccount('consumer');
  const [n1, n2] = await Promise.all([registerNode(provider.api, 'pull-n1', 'T4', 1), registerNode(p2.api, 'pull-n2', 'L4', 1)]);
  [node, other] = await Promise.all([manualAgent(pool.stack.apiUrl, n1.key, 'boot-pull-1'), manualAgent(pool.stack.apiUrl, n2.key, 'boot-pull-2')]);
}, 120_000);

afterAll(async () => {
  node?.stop();
  other?.stop();
  await pool?.stop();
});

describe('the pull phase through the agent API', () => {
  it('PULLING then PULLED on log requests: the consumer sees the phase, then the duration and digest; nothing is metered while it pulls', async () => {
    const { id, attemptId } = await started();
    expect((await logs(id, { attemptId, lines: [line(0, 'pulling ghcr.io/acme/train:1')], pull: { phase: 'PULLING' } })).status).toBe(200);
    const pulling = await job(id);
    expect(pulling.status).toBe('RUNNING');
    expect(pulling.attempts[0]).toMatchObject({ phase: 'PULLING', pullStartedAt: expect.any(Number) });
    expect(pulling.cost.gpuSeconds).toBe(0);
    expect((await logs(id, { attemptId, lines: [line(1, 'pulled')], pull: { phase: 'PULLED', seconds: 0.01, imageDigest: DIGEST } })).status).toBe(200);
    const ran = (await job(id)).attempts[0];
    expect(ran.phase).toBeUndefined();
    expect(ran).toMatchObject({ imageDigest: DIGEST, pullSeconds: expect.any(Number) });
    expect(ran.pullSeconds).toBeLessThanOrEqual(0.01);
    expect((await node.api.post(`/v1/agent/jobs/${id}/finish`, { attemptId, exitCode: 0, outcome: 'exited', pull: { phase: 'PULLED', seconds: 0.01, imageDigest: DIGEST } })).status).toBe(200);
    expect((await job(id)).status).toBe('SUCCEEDED');
  });

  it('refuses a malformed pull report with a 400 and changes nothing', async () => {
    const { id, attemptId } = await started();
    for (const pull of [
      { phase: 'PULLED', imageDigest: 'sha256:nothex' },
      { phase: 'PULLED', seconds: -1 },
      { phase: 'DONE' },
      { phase: 'FAILED', failure: 'CONSUMER_IS_WRONG', message: 'x' },
      { phase: 'FAILED', failure: 'IMAGE_NOT_FOUND', message: 'x'.repeat(2000) },
      { phase: 'PULLING', extra: 1 },
    ]) {
      expectProblem(await logs(id, { attemptId, lines: [line(0)], pull }), 400);
    }
    expect((await job(id)).attempts[0].phase).toBeUndefined();
    await node.api.post(`/v1/agent/jobs/${id}/finish`, { attemptId, exitCode: 0, outcome: 'exited' });
  });

  it("another node cannot report a pull on an attempt that is not its own (404, nothing written)", async () => {
    const { id, attemptId } = await started();
    expectProblem(await other.api.post(`/v1/agent/jobs/${id}/logs`, { attemptId, lines: [line(0)], pull: { phase: 'PULLING' } }), 404);
    expect((await job(id)).attempts[0].phase).toBeUndefined();
    await node.api.post(`/v1/agent/jobs/${id}/finish`, { attemptId, exitCode: 0, outcome: 'exited' });
  });

  it("IMAGE_NOT_FOUND fails the job with the registry's words and charges nothing, even when the node says 'lost'", async () => {
    const { id, attemptId } = await started();
    await logs(id, { attemptId, lines: [line(0)], pull: { phase: 'PULLING' } });
    const message = 'manifest for ghcr.io/acme/train:1 not found: manifest unknown';
    const r = await node.api.post(`/v1/agent/jobs/${id}/finish`, { attemptId, exitCode: null, outcome: 'lost', pull: { phase: 'FAILED', failure: 'IMAGE_NOT_FOUND', message } });
    expect(r.body).toMatchObject({ status: 'FAILED', reason: 'IMAGE_NOT_FOUND' });
    const done = await job(id);
    expect(done).toMatchObject({ status: 'FAILED', reason: 'IMAGE_NOT_FOUND' });
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ status: 'FAILED', reason: 'IMAGE_NOT_FOUND', message, charged: 0 });
    expect(done.cost).toMatchObject({ charged: 0, gpuSeconds: 0 });
  });

  it("REGISTRY_UNREACHABLE is the node's, even when the node says 'error': attempt LOST, charged nothing, the job queued again", async () => {
    const { id, attemptId } = await started();
    const r = await node.api.post(`/v1/agent/jobs/${id}/finish`, { attemptId, exitCode: null, outcome: 'error', pull: { phase: 'FAILED', failure: 'REGISTRY_UNREACHABLE', message: 'connect: connection refused' } });
    expect(r.status).toBe(200);
    const after = await job(id);
    expect(after.attempts[0]).toMatchObject({ status: 'LOST', reason: 'REGISTRY_UNREACHABLE', charged: 0 });
    // placed again (the sweep may already have assigned it anew)
    expect(['QUEUED', 'ASSIGNED']).toContain(after.status);
    await consumer.api.del(`/v1/jobs/${id}`);
  });
});
