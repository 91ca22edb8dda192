// A service's replicas spread over nodes and providers (functions/usecases/replicas.ts serviceSpread) on
// DynamoDB Local through the API: one host or one provider lost should not take two replicas with it.
// Provider 1 has the two cheapest nodes (two GPUs each), provider 2 one dear node: the second replica
// pays more to sit at provider 2, the third goes to provider 1's other node, never beside the first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../functions/domain/model';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { manualAgent, nodeBody } from '../api/helpers';

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
const stops: (() => void)[] = [];
const nodeOf = new Map<string, string>();

async function addNode(providerApi: Awaited<ReturnType<Pool['newAccount']>>['api'], name: string, gpus: number, price: number) {
  const r = await providerApi.post('/v1/nodes', { ...nodeBody(name, 'T4', gpus), pricePerGpuHour: price });
  if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  const n = await manualAgent(pool.stack.apiUrl, r.body.nodeKey, `boot-${name}`);
  stops.push(n.stop);
  nodeOf.set(n.nodeId, name);
}

beforeAll(async () => {
  pool = await startPool();
  const p1 = await pool.newAccount('provider', 'p1');
  const p2 = await pool.newAccount('provider', 'p2');
  consumer = await pool.newAccount('consumer', 'spread');
  await addNode(p1.api, 'p1-cheap', 2, 1_000_000);
  await addNode(p1.api, 'p1-other', 2, 1_100_000);
  await addNode(p2.api, 'p2-dear', 1, 3_000_000);
}, 120_000);

afterAll(async () => {
  for (const s of stops) s();
  await pool?.stop();
});

/** the node names the service's placed replicas sit on, once `n` are placed */
async function placed(id: string, n: number): Promise<string[]> {
  return eventually(
    async () => {
      const s = (await pool.stack.deps.services.get(id))!;
      const jobs = (await Promise.all(s.replicaIds.map((r) => pool.stack.deps.jobs.get(r)))).filter((j): j is Job => !!j?.nodeId);
      return jobs.length === n ? jobs.map((j) => nodeOf.get(j.nodeId!)!) : undefined;
    },
    20_000,
    `${n} placed replicas`,
  );
}

describe('service replicas spread over nodes and providers', () => {
  it('places each new replica on another provider if it can, else on another node, and on a shared node only when nothing else fits', async () => {
    const r = await consumer.api.post('/v1/services', { name: 'spread', command: ['serve'], port: 8000, replicas: { min: 1, max: 4 }, resources: { gpus: 1, gpuModels: ['T4'] } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const id = r.body.service.id;
    expect(await placed(id, 1)).toEqual(['p1-cheap']);
    const scale = async (n: number) => expect((await consumer.api.patch(`/v1/services/${id}`, { replicas: { min: n, max: 4 } })).status).toBe(200);
    await scale(2);
    // the dearest node, for being at another provider
    expect((await placed(id, 2)).sort()).toEqual(['p1-cheap', 'p2-dear']);
    await scale(3);
    // both providers hold one: another node rather than beside the first replica
    expect((await placed(id, 3)).sort()).toEqual(['p1-cheap', 'p1-other', 'p2-dear']);
    await scale(4);
    // every node holds one: a node with a free GPU still takes it
    const four = await placed(id, 4);
    expect(four.filter((n) => n === 'p2-dear')).toHaveLength(1);
    expect(four).toHaveLength(4);
  }, 90_000);
});
