// Images a node holds, on the local stack with nodes driven by hand: the heartbeat's bounded list (too many
// or malformed → 400, nothing written), the matcher placing a job on the node that holds its image, offers
// filtered on an image and saying where it is cached, and a provider's warm-image list reaching its agent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, registerNode, type Api } from './helpers';

const IMAGE = 'ghcr.io/acme/train:1';
const CANONICAL = 'ghcr.io/acme/train:1';
const OTHER = 'busybox';

let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let otherProvider: Awaited<ReturnType<Pool['newAccount']>>;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
const nodes: { id: string; api: Api }[] = [];

const nodeItem = async (id: string) => (await provider.api.get(`/v1/nodes/${id}`)).body.node;
const beat = (api: Api, body: Record<string, unknown> = {}) => api.post('/v1/agent/heartbeat', { running: [], ...body });

describe('images a node holds', () => {
  beforeAll(async () => {
    pool = await startPool();
    provider = await pool.newAccount('provider');
    otherProvider = await pool.newAccount('provider', 'other');
    consumer = await pool.newAccount('consumer');
    // four nodes of one GPU, equal but for price: 'warm' dearer than the cold ones by 1/20 of the spread
    // that 'dear' makes (inside the scorer's 1/12), so only the image can put a job there; sessions opened
    // by hand, no background beats
    const prices: Record<string, number> = { warm: 1_100_000, 'cold-1': 1_000_000, 'cold-2': 1_000_000, dear: 3_000_000 };
    for (const name of ['warm', 'cold-1', 'cold-2', 'dear']) {
      const n = await registerNode(provider.api, name, 'L4');
      expect((await provider.api.patch(`/v1/nodes/${n.id}`, { pricePerGpuHour: prices[name] })).status).toBe(200);
      const api = client(pool.stack.apiUrl, n.key);
      expect((await api.post('/v1/agent/session', { bootId: `boot-${name}` })).status).toBe(200);
      nodes.push({ id: n.id, api });
    }
  }, 60_000);

  afterAll(async () => {
    await pool?.stop();
  });

  it('refuses a list that is too long or malformed with a 400, writing nothing', async () => {
    const [warm] = nodes;
    const before = await nodeItem(warm.id);
    const bad: unknown[] = [
      Array.from({ length: 33 }, (_, i) => `img${i}:1`),
      ['--privileged'],
      ['busybox; rm -rf /'],
      ['a b'],
      [`x/${'a'.repeat(400)}`],
      [''],
      [42],
      'busybox',
    ];
    for (const images of bad) {
      const r = await beat(warm.api, { images });
      expectProblem(r, 400, JSON.stringify(images).slice(0, 80));
    }
    const after = await nodeItem(warm.id);
    expect(after.images).toBeUndefined();
    expect(after.lastSeenAt).toBe(before.lastSeenAt);
    expect(after.version).toBe(before.version);
  });

  it('stores the list canonical when it changes, and places a job on the node holding its image though a cheaper one is free', async () => {
    const [warm, cold1, cold2] = nodes;
    expect((await beat(warm.api, { images: [IMAGE, 'ghcr.io/acme/train:1', OTHER] })).status).toBe(200);
    expect((await beat(cold1.api, { images: [OTHER] })).status).toBe(200);
    expect((await beat(cold2.api, { images: [] })).status).toBe(200);
    expect((await nodeItem(warm.id)).images).toEqual(['docker.io/library/busybox:latest', CANONICAL]);
    expect((await nodeItem(cold2.id)).images).toEqual([]);

    const r = await consumer.api.post('/v1/jobs', { image: IMAGE, command: ['true'], resources: { gpus: 1, gpuModels: ['L4'] } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const placed = await eventually(async () => ((j) => (j.nodeId ? j : undefined))((await consumer.api.get(`/v1/jobs/${r.body.job.id}`)).body.job), 10_000, 'placed');
    expect(placed.nodeId).toBe(warm.id);
    await consumer.api.del(`/v1/jobs/${placed.id}`);
    // the GPU comes back once the cancel is settled: wait, so the offers below see every node
    await eventually(async () => ((await nodeItem(warm.id)).freeGpus === 1 ? true : undefined), 15_000, 'GPU back');
  }, 30_000);

  it('GET /v1/offers says on how many nodes an image is cached (only images their providers advertise), and cached=true keeps only those', async () => {
    const [warm, , cold2] = nodes;
    const q = (extra = '') => consumer.api.get(`/v1/offers?gpuModel=L4&image=${encodeURIComponent(IMAGE)}${extra}`).then((r) => r.body.items);
    // the node holds the image (another tenant's job pulled it, say), but its provider does not advertise
    // it: a consumer asking learns nothing of what other tenants run
    expect((await q())[0]).toMatchObject({ gpuModel: 'L4', nodes: 4, freeGpus: 4, imageCachedNodes: 0 });
    expect(await q('&cached=true')).toEqual([]);
    // advertised by its provider (warmImages) and held: counted, and cached=true keeps only that node;
    // advertised but not held (cold-2 never said it has it): not counted
    expect((await provider.api.patch(`/v1/nodes/${warm.id}`, { warmImages: [IMAGE] })).status).toBe(200);
    expect((await provider.api.patch(`/v1/nodes/${cold2.id}`, { warmImages: [IMAGE] })).status).toBe(200);
    expect((await q())[0]).toMatchObject({ nodes: 4, freeGpus: 4, imageCachedNodes: 1 });
    expect(await q('&cached=true')).toMatchObject([{ nodes: 1, freeGpus: 1, imageCachedNodes: 1 }]);
    // matched as docker resolves names
    expect((await consumer.api.get('/v1/offers?gpuModel=L4&image=ghcr.io/acme/train:1')).body.items[0].imageCachedNodes).toBe(1);
    // held by two nodes, advertised by neither: not counted
    expect((await consumer.api.get(`/v1/offers?gpuModel=L4&image=${OTHER}`)).body.items[0].imageCachedNodes).toBe(0);
    // without an image, offers look as before
    expect((await consumer.api.get('/v1/offers?gpuModel=L4')).body.items[0].imageCachedNodes).toBeUndefined();
    expect((await consumer.api.get('/v1/offers?gpuModel=L4&image=nothing:here&cached=true')).body.items).toEqual([]);
    expectProblem(await consumer.api.get('/v1/offers?cached=true'), 400);
    expectProblem(await consumer.api.get('/v1/offers?image=-rf'), 400);
    expectProblem(await consumer.api.get('/v1/offers?image=busybox&cached=yes'), 400);
  });

  it('PATCH /v1/nodes/{id} warmImages reaches the agent in its heartbeat answers; bad lists are 400 and change nothing', async () => {
    const cold1 = nodes[1];
    expect((await beat(cold1.api)).body.warmImages).toBeUndefined();
    const ok = await provider.api.patch(`/v1/nodes/${cold1.id}`, { warmImages: [IMAGE, IMAGE, OTHER] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.node.warmImages).toEqual([IMAGE, OTHER]);
    expect((await beat(cold1.api)).body.warmImages).toEqual([IMAGE, OTHER]);

    const before = await nodeItem(cold1.id);
    for (const warmImages of [Array.from({ length: 17 }, (_, i) => `img${i}:1`), ['-x'], ['$(reboot)'], 'busybox']) {
      expectProblem(await provider.api.patch(`/v1/nodes/${cold1.id}`, { warmImages }), 400, String(warmImages));
    }
    expect((await nodeItem(cold1.id)).version).toBe(before.version);
    // only the node's own provider may set it (another provider's node is "not found")
    expect((await otherProvider.api.patch(`/v1/nodes/${cold1.id}`, { warmImages: [OTHER] })).status).toBe(404);

    expect((await provider.api.patch(`/v1/nodes/${cold1.id}`, { warmImages: [] })).status).toBe(200);
    expect((await beat(cold1.api)).body.warmImages).toBeUndefined();
  });
});
