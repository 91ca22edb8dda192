// The image cache on a real Docker Engine (scripts/test-docker-engine.sh): an agent on GPUPOOL_RUNTIME=docker
// reports the images its engine holds in its heartbeats, and a provider's PATCH warmImages makes it pull an
// image from a registry (a loopback one serving an image of the test engine) until the node holds it.
// Skips, saying why, only where the engine cannot start here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { dockerEngine, engineTitle, TEST_IMAGE, type DockerEngine } from '../helpers/docker-engine';
import { serveImage, type ServedImage } from '../helpers/image-registry';
import { startPool, type Pool } from '../helpers/local-pool';

const engine = await dockerEngine();

let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let docker: DockerEngine['docker'];
let host: string;
let nodeId: string;
let registry: ServedImage | undefined;

const nodeImages = async () => ((await provider.api.get(`/v1/nodes/${nodeId}`)).body.node.images ?? []) as string[];

describe.skipIf('skip' in engine)(engineTitle('the images a docker node holds, on a real Docker Engine', engine), () => {
  beforeAll(async () => {
    if ('skip' in engine) return;
    ({ docker, host } = engine);
    pool = await startPool();
    provider = await pool.newAccount('provider');
    consumer = await pool.newAccount('consumer');
    const agent = await pool.addAgent({ name: 'dk-images', gpus: '1xL4-24', providerKey: provider.key, env: { GPUPOOL_RUNTIME: 'docker', DOCKER_HOST: host } });
    nodeId = agent.nodeId;
  }, 120_000);

  afterAll(async () => {
    if (registry && !('skip' in engine)) await docker('image', 'rm', '-f', registry.ref);
    await registry?.close();
    await pool?.stop();
  });

  it("reports the test image it holds in its heartbeat, and offers say it is cached there", async () => {
    // the first list goes out right after the session, not an idle period later
    const images = await eventually(async () => ((l) => (l.length ? l : undefined))(await nodeImages()), 20_000, 'images on the node');
    expect(images).toContain(`docker.io/${TEST_IMAGE}`);
    // offers count what providers advertise (warmImages) and their nodes hold, never what other tenants ran
    expect((await provider.api.patch(`/v1/nodes/${nodeId}`, { warmImages: [TEST_IMAGE] })).status).toBe(200);
    const offers = (await consumer.api.get(`/v1/offers?gpuModel=L4&image=${encodeURIComponent(TEST_IMAGE)}&cached=true`)).body.items;
    expect(offers).toMatchObject([{ gpuModel: 'L4', nodes: 1, imageCachedNodes: 1, runtime: 'docker' }]);
  }, 30_000);

  it('PATCH warmImages makes the agent pull an image it lacks, and the node then holds it', async () => {
    registry = await serveImage(host, TEST_IMAGE, 'gpupool-test/warm', '1');
    expect((await docker('image', 'inspect', registry.ref)).code).not.toBe(0);
    expect(await nodeImages()).not.toContain(registry.ref);

    const r = await provider.api.patch(`/v1/nodes/${nodeId}`, { warmImages: [registry.ref] });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // the next heartbeat answer carries the list; the agent pulls, lists again and beats at once
    const images = await eventually(async () => ((l) => (l.includes(registry!.ref) ? l : undefined))(await nodeImages()), 45_000, 'warm image on the node');
    expect(images).toContain(`127.0.0.1:${new URL(`http://${registry.ref}`).port}/gpupool-test/warm@${registry.digest}`);
    expect((await docker('image', 'inspect', registry.ref)).code).toBe(0);

    // a job naming it by digest is placed here and starts from the node's copy
    const job = await consumer.api.post('/v1/jobs', { image: `${registry.ref.replace(/:1$/, '')}@${registry.digest}`, command: ['echo', 'warm'], resources: { gpus: 1 } });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const done = await eventually(async () => ((j) => (['SUCCEEDED', 'FAILED'].includes(j.status) ? j : undefined))((await consumer.api.get(`/v1/jobs/${job.body.job.id}`)).body.job), 30_000, 'job done');
    expect(done).toMatchObject({ status: 'SUCCEEDED', nodeId });
  }, 90_000);
});
