// A node fault (docs/agent-hosts.md, Node faults): an agent that finds its node unable to run work (docker
// cannot hand out GPUs, the engine is gone) says so in its heartbeat. On the local stack with nodes driven
// by hand: the node leaves service with the agent's words in its status, work goes elsewhere, the agent's
// next session brings it back; a fault report cannot lift a provider's drain, nor reach another node, and a
// malformed one is a 400 that changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, registerNode, type Api } from './helpers';

const FAULT = 'docker cannot give GPUs to containers: the NVIDIA Container Toolkit is missing or not configured';

let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
const nodes: { id: string; api: Api }[] = [];

const nodeItem = async (id: string) => (await provider.api.get(`/v1/nodes/${id}`)).body.node;
const beat = (api: Api, body: Record<string, unknown> = {}) => api.post('/v1/agent/heartbeat', { running: [], ...body });

describe('node faults', () => {
  beforeAll(async () => {
    pool = await startPool();
    provider = await pool.newAccount('provider');
    consumer = await pool.newAccount('consumer');
    for (const name of ['faulty', 'healthy']) {
      const n = await registerNode(provider.api, name, 'L4');
      const api = client(pool.stack.apiUrl, n.key);
      expect((await api.post('/v1/agent/session', { bootId: `boot-${name}` })).status).toBe(200);
      nodes.push({ id: n.id, api });
    }
    // the faulty node is the cheaper one: without the fault, work would go there first
    expect((await provider.api.patch(`/v1/nodes/${nodes[1].id}`, { pricePerGpuHour: 3_000_000 })).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await pool?.stop();
  });

  it('a malformed fault is a 400 and changes nothing', async () => {
    const [faulty] = nodes;
    for (const fault of ['', 'x'.repeat(501), 42, ['a']]) expectProblem(await beat(faulty.api, { fault }), 400, JSON.stringify(fault).slice(0, 40));
    expect(await nodeItem(faulty.id)).toMatchObject({ status: 'ONLINE' });
  });

  it('takes the node out of service with the words in its status; work goes to another node; a new session brings it back', async () => {
    const [faulty, healthy] = nodes;
    expect((await beat(faulty.api, { fault: FAULT })).status).toBe(200);
    const item = await nodeItem(faulty.id);
    expect(item.status).toBe('DRAINING');
    expect(item.statusReason).toBe(`node fault: ${FAULT}`);
    // the healthy, dearer node gets the job
    const r = await consumer.api.post('/v1/jobs', { image: 'busybox', command: ['true'], resources: { gpus: 1 }, maxDurationSeconds: 60 });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const placed = await eventually(async () => ((j) => (j.attempts?.[0]?.nodeId ? j : undefined))((await consumer.api.get(`/v1/jobs/${r.body.job.id}`)).body.job), 15_000, 'placed');
    expect(placed.attempts[0].nodeId).toBe(healthy.id);
    expect((await consumer.api.del(`/v1/jobs/${r.body.job.id}`)).status).toBe(202);
    // the agent restarted (its provider fixed the host): the session lifts the fault's drain
    expect((await faulty.api.post('/v1/agent/session', { bootId: 'boot-faulty-2' })).status).toBe(200);
    expect(await nodeItem(faulty.id)).toMatchObject({ status: 'ONLINE' });
    // still faulted: the next beat takes it out again
    expect((await beat(faulty.api, { fault: FAULT })).status).toBe(200);
    expect(await nodeItem(faulty.id)).toMatchObject({ status: 'DRAINING' });
    expect((await faulty.api.post('/v1/agent/session', { bootId: 'boot-faulty-3' })).status).toBe(200);
    expect(await nodeItem(faulty.id)).toMatchObject({ status: 'ONLINE' });
  });

  it("provider: a fault report and a new session do not lift the provider's own drain", async () => {
    const [faulty] = nodes;
    expect((await provider.api.patch(`/v1/nodes/${faulty.id}`, { drain: true })).status).toBe(200);
    const drained = await nodeItem(faulty.id);
    expect((await beat(faulty.api, { fault: FAULT })).status).toBe(200);
    expect((await faulty.api.post('/v1/agent/session', { bootId: 'boot-faulty-4' })).status).toBe(200);
    expect(await nodeItem(faulty.id)).toMatchObject({ status: 'DRAINING', statusReason: drained.statusReason });
    expect((await provider.api.patch(`/v1/nodes/${faulty.id}`, { drain: false })).status).toBe(200);
    expect(await nodeItem(faulty.id)).toMatchObject({ status: 'ONLINE' });
  });

  it('a node reports only for itself: the healthy node stays in service while the other reports a fault', async () => {
    const [faulty, healthy] = nodes;
    expect((await beat(faulty.api, { fault: FAULT })).status).toBe(200);
    expect(await nodeItem(healthy.id)).toMatchObject({ status: 'ONLINE' });
    expect((await faulty.api.post('/v1/agent/session', { bootId: 'boot-faulty-5' })).status).toBe(200);
  });
});
