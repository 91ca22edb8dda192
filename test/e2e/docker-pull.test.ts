// Image pulls on a real Docker Engine from a real local registry (Debian's docker-registry, started by
// scripts/test-docker-engine.sh registry): the pull is a phase of the attempt the consumer sees (PULLING,
// then its duration and the digest that ran), failures are typed with the registry's words and charged to
// whoever caused them, a node short of disk gives the attempt back, and the node's image garbage collector
// removes the least recently used image it pulled, never one in use. Skips, saying why, only where the
// engine or the registry cannot start here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { dockerEngine, dockerRegistry, engineTitle, TEST_IMAGE, type DockerEngine } from '../helpers/docker-engine';
import { startPool, type Pool } from '../helpers/local-pool';

const engine = await dockerEngine();
const registry = 'skip' in engine ? engine : await dockerRegistry();
const skip = 'skip' in registry ? registry : undefined;
const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let gcNodeId: string;
let docker: DockerEngine['docker'];
let host: string;
let reg: string;
const buildDir = mkdtempSync(path.join(tmpdir(), 'gpupool-pull-'));
const sockets = new Set<Socket>();
let silent: Server;

const job = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
const waitFinal = (id: string, ms = 45_000) => eventually(async () => ((j) => (FINAL.includes(j.status) ? j : undefined))(await job(id)), ms, `job ${id} to end`);
const logs = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}/logs`)).body.items as { stream: string; text: string }[];
/** jobs go to the node carrying `pool=<name>` */
const submit = async (node: string, body: Record<string, unknown>) => {
  const r = await consumer.api.post('/v1/jobs', { resources: { gpus: 1 }, placement: { labels: { pool: node } }, ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.job.id as string;
};
const dockerOk = async (...args: string[]) => {
  const r = await docker(...args);
  expect(r.code, `docker ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.trim();
};

/** A fresh image only the registry holds: built from the test image, pushed, then removed from the engine. */
async function registryOnlyImage(name: string): Promise<{ ref: string; digest: string }> {
  const ref = `${reg}/gpupool-test/${name}:1`;
  const ctx = path.join(buildDir, name);
  mkdirSync(ctx, { recursive: true });
  writeFileSync(path.join(ctx, 'tag'), `${name}\n`);
  writeFileSync(path.join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY tag /tag\n`);
  const build = await docker('build', '-q', '-t', ref, ctx);
  expect(build.code, build.stderr).toBe(0);
  const pushed = await dockerOk('push', ref);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1];
  expect(digest, pushed).toBeDefined();
  await dockerOk('rmi', ref);
  return { ref, digest: digest! };
}

const agentEnv = (extra: Record<string, string>) => ({ GPUPOOL_RUNTIME: 'docker', DOCKER_HOST: host, GPUPOOL_STOP_GRACE_SECONDS: '1', GPUPOOL_IMAGE_MIN_FREE_GB: '0.1', ...extra });

describe.skipIf(skip !== undefined)(engineTitle('image pulls from a local registry on a real Docker Engine', skip ?? { host: '', docker: async () => ({ code: 0, stdout: '', stderr: '' }) }), () => {
  beforeAll(async () => {
    if ('skip' in engine || 'skip' in registry) return;
    ({ host, docker } = engine);
    reg = registry.address;
    // a registry that accepts connections and never answers: the pull hangs, so its phase can be seen
    silent = createServer((s) => (sockets.add(s), s.on('close', () => sockets.delete(s)))).listen(0, '127.0.0.1');
    await new Promise((r) => silent.once('listening', r));
    pool = await startPool();
    provider = await pool.newAccount('provider');
    consumer = await pool.newAccount('consumer');
    await Promise.all([
      pool.addAgent({ name: 'pl-a', gpus: '2xA100-80', providerKey: provider.key, env: agentEnv({ GPUPOOL_LABELS: 'pool=a' }) }),
      // no room for any pull: a floor of a million GB free
      pool.addAgent({ name: 'pl-full', gpus: '1xA100-80', providerKey: provider.key, env: agentEnv({ GPUPOOL_LABELS: 'pool=full', GPUPOOL_IMAGE_MIN_FREE_GB: '1000000' }) }),
      // room for about one test image (each ≈ 2 MB) within its budget
      pool.addAgent({ name: 'pl-gc', gpus: '2xA100-80', providerKey: provider.key, env: agentEnv({ GPUPOOL_LABELS: 'pool=gc', GPUPOOL_IMAGE_DISK_BUDGET_GB: '0.003' }) }).then((a) => (gcNodeId = a.nodeId)),
    ]);
  }, 180_000);

  afterAll(async () => {
    await pool?.stop();
    for (const s of sockets) s.destroy();
    silent?.close();
    rmSync(buildDir, { recursive: true, force: true });
  });

  it('a job whose image only the registry holds shows the pull (its duration and the digest that ran) and succeeds', async () => {
    const { ref, digest } = await registryOnlyImage('pulled');
    const id = await submit('a', { image: ref, command: ['cat', '/tag'] });
    const done = await waitFinal(id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', exitCode: 0 });
    const a = done.attempts[0];
    expect(a.imageDigest).toBe(digest);
    expect(a.pullSeconds).toBeGreaterThan(0);
    expect(a.phase).toBeUndefined();
    const text = (await logs(id)).map((l) => l.text);
    expect(text).toContain(`pulling ${ref}`);
    expect(text.find((t) => t.startsWith(`pulled ${ref} in `))).toBeDefined();
    expect((await logs(id)).filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual(['pulled']);
    // measured, for docs/agent-hosts.md (not asserted): a cold pull of a busybox image from the local registry
    console.log(`cold pull from the local registry: ${a.pullSeconds} s (node's measure)`);

    // the second job on the same node finds it there: the digest, no pull
    const again = await waitFinal(await submit('a', { image: ref, command: ['cat', '/tag'] }));
    expect(again.status).toBe('SUCCEEDED');
    expect(again.attempts[0].imageDigest).toBe(digest);
    expect(again.attempts[0].pullSeconds).toBeUndefined();
  }, 90_000);

  it('the consumer sees PULLING while the node pulls, and pays nothing for it', async () => {
    const id = await submit('a', { image: `127.0.0.1:${(silent.address() as { port: number }).port}/gpupool-test/slow:1`, command: ['true'] });
    const pulling = await eventually(async () => ((j) => (j.attempts[0]?.phase === 'PULLING' ? j : undefined))(await job(id)), 30_000, 'the PULLING phase');
    expect(pulling.status).toBe('RUNNING');
    expect(pulling.attempts[0].pullStartedAt).toBeGreaterThanOrEqual(pulling.attempts[0].startedAt);
    expect(pulling.cost.charged).toBe(0);
    expect((await consumer.api.del(`/v1/jobs/${id}`)).status).toBe(202);
    const done = await waitFinal(id);
    expect(done).toMatchObject({ status: 'CANCELLED' });
    expect(done.attempts[0].phase).toBeUndefined();
    expect(done.cost.charged).toBe(0);
  }, 60_000);

  it("an image the registry does not have: FAILED IMAGE_NOT_FOUND in the registry's words, not placed again, charged nothing", async () => {
    const ref = `${reg}/gpupool-test/no-such-image:1`;
    const done = await waitFinal(await submit('a', { image: ref, command: ['true'], maxAttempts: 3 }));
    expect(done).toMatchObject({ status: 'FAILED', reason: 'IMAGE_NOT_FOUND' });
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ status: 'FAILED', reason: 'IMAGE_NOT_FOUND' });
    expect(done.attempts[0].message).toMatch(/manifest unknown|not found/);
    expect(done.attempts[0].message).toContain('gpupool-test/no-such-image');
    expect(done.cost.charged).toBe(0);
  }, 60_000);

  it("a registry that is down is the node's fault: the attempt LOST (REGISTRY_UNREACHABLE), charged nothing, the job placed again", async () => {
    // a loopback port nothing listens on: connection refused, as from a registry that is down
    const closed = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => closed.once('listening', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const id = await submit('a', { image: `127.0.0.1:${port}/gpupool-test/busybox:1`, command: ['true'], maxAttempts: 3 });
    const lost = await eventually(async () => ((j) => (j.attempts[0]?.status === 'LOST' ? j : undefined))(await job(id)), 30_000, 'first attempt lost');
    expect(lost.attempts[0]).toMatchObject({ reason: 'REGISTRY_UNREACHABLE', charged: 0 });
    expect(lost.attempts[0].message).toMatch(/connection refused/);
    expect(lost.status).not.toBe('FAILED');
    await consumer.api.del(`/v1/jobs/${id}`);
    await waitFinal(id);
  }, 60_000);

  it("a node without the disk room for a pull gives the attempt back (NO_DISK_SPACE), charged nothing", async () => {
    const { ref } = await registryOnlyImage('no-room');
    const id = await submit('full', { image: ref, command: ['true'], maxAttempts: 3 });
    const lost = await eventually(async () => ((j) => (j.attempts[0]?.status === 'LOST' ? j : undefined))(await job(id)), 30_000, 'first attempt lost');
    expect(lost.attempts[0]).toMatchObject({ reason: 'NO_DISK_SPACE', charged: 0 });
    expect(lost.attempts[0].message).toMatch(/GB free on the docker data root/);
    expect((await docker('image', 'inspect', ref)).code).not.toBe(0);
    await consumer.api.del(`/v1/jobs/${id}`);
    await waitFinal(id);
  }, 60_000);

  it('garbage collection removes the least recently used image the node pulled, never one in use', async () => {
    const [first, busy, last] = [await registryOnlyImage('gc-first'), await registryOnlyImage('gc-busy'), await registryOnlyImage('gc-last')];
    expect((await waitFinal(await submit('gc', { image: first.ref, command: ['true'] }))).status).toBe('SUCCEEDED');
    // over budget at its pull: the first image (unused now) goes
    const running = await submit('gc', { image: busy.ref, command: ['sh', '-c', 'echo up; sleep 120'] });
    await eventually(async () => ((await logs(running)).some((l) => l.text === 'up') ? true : undefined), 30_000, 'the busy job to run');
    await eventually(async () => ((await docker('image', 'inspect', first.ref)).code !== 0 ? true : undefined), 15_000, 'the least recently used image removed');
    // the next pull puts it over budget again: the running job's image is older, but in use, so it stays
    expect((await waitFinal(await submit('gc', { image: last.ref, command: ['true'] }))).status).toBe('SUCCEEDED');
    expect((await docker('image', 'inspect', busy.ref)).code).toBe(0);
    expect((await job(running)).status).toBe('RUNNING');
    await consumer.api.del(`/v1/jobs/${running}`);
    await waitFinal(running);
  }, 120_000);

  it("garbage collection never removes an image on the provider's warm list, even after a job ran it", async () => {
    const [warm, other] = [await registryOnlyImage('gc-warm'), await registryOnlyImage('gc-other')];
    expect((await provider.api.patch(`/v1/nodes/${gcNodeId}`, { warmImages: [warm.ref] })).status).toBe(200);
    await eventually(async () => ((await docker('image', 'inspect', warm.ref)).code === 0 ? true : undefined), 30_000, 'the warm image pulled');
    // a job runs it (now it is an image the agent used, and the least recently used one)
    expect((await waitFinal(await submit('gc', { image: warm.ref, command: ['true'] }))).status).toBe('SUCCEEDED');
    // another pull puts the node over its budget: the warm image stays
    expect((await waitFinal(await submit('gc', { image: other.ref, command: ['true'] }))).status).toBe('SUCCEEDED');
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await docker('image', 'inspect', warm.ref)).code).toBe(0);
    expect((await provider.api.patch(`/v1/nodes/${gcNodeId}`, { warmImages: [] })).status).toBe(200);
  }, 120_000);
});
