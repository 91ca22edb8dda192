// How a service replica runs: the process runtime gives it a free loopback port as PORT, which a job's own
// env cannot override; through the whole agent, a replica outlives its maxDurationSeconds (its billing
// period) while a plain job on the same node times out, and its host port is recorded in attempts.json;
// on a real Docker Engine, a busybox httpd on $PORT answers through the port published on the host's
// loopback from the replica's own bridge network.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AttemptSpec } from '../../functions/domain/agent-protocol';
import { silentLogger } from '../../agent/log';
import { DockerRuntime, dockerRunArgs } from '../../agent/runtime/docker';
import { ProcessRuntime } from '../../agent/runtime/process';
import { releaseLoopbackPort, takeLoopbackPort } from '../../agent/service/port';
import { probeReadiness } from '../../agent/service/readiness';
import { dockerEngine, engineTitle, TEST_IMAGE } from '../helpers/docker-engine';
import { dispatch, startAgent } from './helpers/agent';
import { FakeControlPlane, sessionOn } from './helpers/fake-control-plane';
import { lineCollector, until } from './helpers/lines';
import { startSqs } from './helpers/sqs';

const REPLICA = fileURLToPath(new URL('./helpers/replica.mjs', import.meta.url));
const engine = await dockerEngine();
const stateDir = mkdtempSync(join(tmpdir(), 'gpupool-svc-runtime-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const service = { id: 'svc-1', port: 8000, readinessPath: '/ready' };

describe('process runtime', () => {
  it('gives a replica the free loopback port it picked as PORT (a job’s own PORT does not win), and the replica answers there', async () => {
    const runtime = new ProcessRuntime(stateDir, silentLogger, { PATH: process.env.PATH });
    const hostPort = await takeLoopbackPort();
    const out = lineCollector();
    const spec: AttemptSpec = { command: [process.execPath, REPLICA], env: { PORT: '1' }, gpus: 0, maxDurationSeconds: 60, service };
    const handle = runtime.start({ jobId: 'job1', attemptId: 'att-port', spec, devices: [], hostPort, onLine: out.onLine });
    try {
      expect(await out.waitFor(/^listening on/)).toBe(`listening on ${hostPort}`);
      const r = await fetch(`http://127.0.0.1:${hostPort}/anything`);
      expect(await r.json()).toEqual({ attempt: 'att-port', method: 'GET', url: '/anything' });
      expect(await probeReadiness(hostPort, '/ready')).toBe(true);
    } finally {
      await handle.stop(1_000);
      releaseLoopbackPort(hostPort);
    }
  });

  it('never hands out a port a running replica holds', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => takeLoopbackPort()));
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) releaseLoopbackPort(p);
  });
});

describe('a replica through the agent', () => {
  it('runs past maxDurationSeconds while a plain job with the same limit times out; its host port is in attempts.json', async () => {
    const sqs = await startSqs();
    const cp = new FakeControlPlane(() => sessionOn(sqs));
    await cp.start();
    const agent = startAgent(cp.url, { GPUPOOL_DRAIN_SECONDS: '0' });
    try {
      await agent.ready();
      const replica = dispatch([process.execPath, REPLICA], { gpus: 0, maxDurationSeconds: 1, service });
      await sqs.send(replica);
      await cp.waitFor('start', (c) => c.body.attemptId === replica.attemptId);
      const plain = dispatch(['sleep', '30'], { gpus: 0, maxDurationSeconds: 1 });
      await sqs.send(plain);
      // the plain job, started after the replica with the same limit, is stopped for it...
      const timedOut = await cp.waitFor('finish', (c) => c.body.attemptId === plain.attemptId, 15_000);
      expect(timedOut.body).toMatchObject({ outcome: 'timed_out' });
      // ...the replica is not: no finish, and it still answers on the port the agent recorded for it
      expect(cp.of('finish', replica.attemptId)).toEqual([]);
      const records = JSON.parse(readFileSync(join(agent.stateDir, 'attempts.json'), 'utf8')) as Array<{ attemptId: string; hostPort?: number }>;
      const hostPort = records.find((r) => r.attemptId === replica.attemptId)?.hostPort;
      expect(hostPort).toBeGreaterThan(0);
      await until(() => probeReadiness(hostPort!, '/ready'), 5_000, 'the replica to answer on its recorded port');
      // it still ends when told (cancel), as any attempt does
      await sqs.send({ type: 'cancel', jobId: replica.jobId, attemptId: replica.attemptId });
      expect((await cp.waitFor('finish', (c) => c.body.attemptId === replica.attemptId)).body).toMatchObject({ outcome: 'cancelled' });
    } finally {
      expect(await agent.stop()).toBe(0);
      await cp.close();
      await sqs.close();
    }
  }, 30_000);
});

describe('docker arguments of a replica', () => {
  it('runs it on its own bridge network (never --network none, which cannot publish), PORT the service port, published on loopback only', () => {
    const spec: AttemptSpec = { image: TEST_IMAGE, command: ['serve'], env: { PORT: '1', A: 'b' }, gpus: 0, maxDurationSeconds: 60, service: { id: 'svc-1', port: 8080, readinessPath: '/ready' } };
    const args = dockerRunArgs({ jobId: 'j', attemptId: 'a1', spec, devices: [], hostPort: 41234 });
    const net = args.indexOf('--network');
    expect(args.slice(net, net + 4)).toEqual(['--network', 'gpupool-a1', '--publish', '127.0.0.1:41234:8080']);
    expect(args.filter((a) => a === '--network')).toHaveLength(1);
    expect(args.filter((a) => a.startsWith('PORT='))).toEqual(['PORT=8080']);
  });
});

describe.skipIf('skip' in engine)(engineTitle('docker runtime on a real Docker Engine', engine), () => {
  it('publishes the replica’s PORT on a loopback host port: busybox httpd answers there', async () => {
    if ('skip' in engine) return;
    vi.stubEnv('DOCKER_HOST', engine.host);
    const runtime = new DockerRuntime(silentLogger, { owner: stateDir });
    const hostPort = await takeLoopbackPort();
    const out = lineCollector();
    const spec: AttemptSpec = {
      image: TEST_IMAGE,
      command: ['sh', '-c', 'mkdir -p /scratch/www && echo "port $PORT" > /scratch/www/index.html && echo ready > /scratch/www/ready && exec httpd -f -p "$PORT" -h /scratch/www'],
      env: {},
      gpus: 0,
      maxDurationSeconds: 60,
      service: { id: 'svc-docker', port: 8080, readinessPath: '/ready' },
    };
    const handle = runtime.start({ jobId: 'jobd', attemptId: `attd-${process.pid}`, spec, devices: [], hostPort, onLine: out.onLine });
    try {
      await until(() => probeReadiness(hostPort, '/ready'), 20_000, `httpd to answer on 127.0.0.1:${hostPort}; output: ${JSON.stringify(out.lines)}`);
      const r = await fetch(`http://127.0.0.1:${hostPort}/index.html`);
      expect(r.status).toBe(200);
      expect((await r.text()).trim()).toBe('port 8080');
      // published on loopback only
      const ports = await engine.docker('port', `gpupool-attd-${process.pid}`);
      expect(ports.stdout.trim().split('\n')).toEqual([`8080/tcp -> 127.0.0.1:${hostPort}`]);
    } finally {
      await handle.stop(1_000);
      releaseLoopbackPort(hostPort);
      vi.unstubAllEnvs();
    }
    // the replica's own network went with it
    expect((await engine.docker('network', 'ls', '-q', '--filter', `name=gpupool-attd-${process.pid}`)).stdout.trim()).toBe('');
  }, 60_000);
});
