// Startup phases: exit codes, identity across restarts, and leftovers of a previous run.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startAgent } from './helpers/agent';
import { spawnAgent } from './helpers/child';
import { pathWithFakes } from './helpers/fixtures';
import { FakeControlPlane, NODE_KEY, sessionOn } from './helpers/fake-control-plane';
import { isAlive, until } from './helpers/lines';
import { startSqs, type LocalSqs } from './helpers/sqs';

let sqs: LocalSqs;
let cp: FakeControlPlane;
let stale: string[] = [];
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'gpupool-startup-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  sqs = await startSqs('node-startup');
  cp = new FakeControlPlane(() => sessionOn(sqs, { stale }));
  await cp.start();
});

afterEach(() => vi.unstubAllEnvs());

afterAll(async () => {
  await cp?.close();
  await sqs?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function closedPortUrl(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return `http://127.0.0.1:${port}`;
}

describe('startup', () => {
  it('exits 2 with every problem listed when the configuration is bad', async () => {
    const agent = spawnAgent({ GPUPOOL_API_URL: 'not a url', GPUPOOL_RUNTIME: 'podman' });
    expect(await agent.exited).toBe(2);
    expect(agent.stderr()).toMatch(/bad configuration:[\s\S]*GPUPOOL_API_URL[\s\S]*GPUPOOL_RUNTIME[\s\S]*GPUPOOL_PROVIDER_KEY/);
  });

  it('exits 3 when the control plane stays unreachable', async () => {
    const agent = startAgent(await closedPortUrl(), { GPUPOOL_STARTUP_TIMEOUT_SECONDS: '1' }, tempDir());
    expect(await agent.exit).toBe(3);
    // the cause as the socket gave it (the port is closed: nothing listens there)
    expect(agent.logs.map((l) => l.msg)).toContainEqual(expect.stringMatching(/^registration failed: control plane unreachable \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/));
  });

  it('exits 2 when the control plane rejects the provider key', async () => {
    cp.responders.set('register', () => ({ status: 401, body: { title: 'Unauthorized', status: 401 } }));
    const agent = startAgent(cp.url, {}, tempDir());
    expect(await agent.exit).toBe(2);
    expect(agent.logs.map((l) => l.msg)).toContain('registration rejected: HTTP 401: Unauthorized');
    cp.responders.set('register', () => ({ status: 201, body: { node: { id: 'node-1' }, nodeKey: NODE_KEY } }));
  });

  it('exits 2 when GPUs are neither found nor simulated', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    const agent = startAgent(cp.url, { GPUPOOL_SIMULATED_GPUS: '' }, tempDir());
    expect(await agent.exit).toBe(2);
    expect(agent.logs.at(-1)).toMatchObject({ level: 'error', msg: expect.stringMatching(/nvidia-smi not found/), exitCode: 2 });
  });

  it('registers the GPUs nvidia-smi reports (fake nvidia-smi printing a real 4x A10G capture)', async () => {
    vi.stubEnv('PATH', pathWithFakes());
    vi.stubEnv('FAKE_NVIDIA_SMI_FIXTURE', 'a10g-4x-query.csv');
    vi.stubEnv('FAKE_NVIDIA_SMI_LIST_FIXTURE', 'a10g-4x-list.txt');
    const agent = startAgent(cp.url, { GPUPOOL_SIMULATED_GPUS: '', GPUPOOL_LOCATION: '50.1,8.7', GPUPOOL_LABELS: 'tier=gold' }, tempDir());
    await agent.ready();
    const body = cp.of('register').at(-1)!.body;
    expect(body).toMatchObject({ name: 'test-node', location: { lat: 50.1, lon: 8.7 }, labels: { tier: 'gold' } });
    expect(body.gpus).toEqual([0, 1, 2, 3].map((index) => expect.objectContaining({ index, model: 'A10G', vramGb: 22, name: 'NVIDIA A10G' })));
    expect(agent.humans[0]).toMatch(/registered node node-1 \(4x A10G 22 GB\)/);
    expect(await agent.stop()).toBe(0);
  });

  it('uses GPUPOOL_NODE_KEY directly, without registering', async () => {
    const before = cp.of('register').length;
    const agent = startAgent(cp.url, { GPUPOOL_PROVIDER_KEY: '', GPUPOOL_NODE_KEY: 'nk_from_env' }, tempDir());
    await agent.ready();
    expect(cp.of('register')).toHaveLength(before);
    expect(cp.calls.at(-1)).toMatchObject({ route: 'session', key: 'nk_from_env' });
    expect(await agent.stop()).toBe(0);
  });

  it('is the same node after a restart, and cleans up what the last run left', async () => {
    const stateDir = tempDir();
    const first = startAgent(cp.url, {}, stateDir);
    await first.ready();
    expect(await first.stop()).toBe(0);
    const registrations = cp.of('register').length;

    // What a crashed run leaves: a live attempt the control plane has written off, and one it still counts.
    const orphan = spawn('sh', ['-c', 'sleep 30 & wait'], { detached: true, stdio: 'ignore', env: { ...process.env, GPUPOOL_ATTEMPT_ID: 'attStale' } });
    await until(() => isAlive(orphan.pid!), 2_000, 'the orphan to start');
    const records = [
      { attemptId: 'attStale', jobId: 'jobS', runtime: 'process', pid: orphan.pid, devices: [0], startedAt: 1 },
      { attemptId: 'attLost', jobId: 'jobL', runtime: 'process', pid: 999_999, devices: [1], startedAt: 1 },
    ];
    writeFileSync(join(stateDir, 'attempts.json'), JSON.stringify(records));
    stale = ['attStale'];

    const second = startAgent(cp.url, {}, stateDir);
    await second.ready();
    expect(cp.of('register')).toHaveLength(registrations);
    expect(cp.calls.filter((c) => c.route === 'session').at(-1)).toMatchObject({ key: NODE_KEY, body: { running: ['attStale', 'attLost'] } });
    await until(() => !isAlive(orphan.pid!), 2_000, 'the stale orphan to be killed');
    expect(cp.of('finish', 'attStale')).toEqual([]);
    expect(cp.of('finish', 'attLost')[0]).toMatchObject({ jobId: 'jobL', body: { outcome: 'lost', exitCode: null, error: 'agent restarted; attempt lost' } });
    expect(JSON.parse(readFileSync(join(stateDir, 'attempts.json'), 'utf8'))).toEqual([]);
    expect(await second.stop()).toBe(0);
    stale = [];
  });
});
