// Readiness of service replicas (agent/service/readiness.ts): the probe's verdicts on a real server, and
// through the whole agent in process: a replica's readiness flips (the replica answers its readiness path
// 200 only while a file exists) reach the control plane in a heartbeat sent at once, long before the
// heartbeat period (60 s here) would have sent one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeReadiness } from '../../agent/service/readiness';
import { dispatch, startAgent, type RunningAgent } from './helpers/agent';
import { FakeControlPlane, sessionOn, type Call } from './helpers/fake-control-plane';
import { startSqs, type LocalSqs } from './helpers/sqs';

const REPLICA = fileURLToPath(new URL('./helpers/replica.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gpupool-readiness-'));
let sqs: LocalSqs;
let cp: FakeControlPlane;
let agent: RunningAgent;
let server: Server;
let port = 0;

beforeAll(async () => {
  // what the readiness probe sees, by path
  server = createServer((req, res) => {
    const m = /^\/(\d{3})$/.exec(req.url ?? '');
    if (req.url === '/hang') return; // never answers
    res.writeHead(m ? Number(m[1]) : 404, m && m[1].startsWith('3') ? { location: '/elsewhere' } : {}).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;

  sqs = await startSqs();
  // 60 s heartbeats: a beat within seconds of a flip is the early one, not the periodic one
  cp = new FakeControlPlane(() => sessionOn(sqs, { heartbeat: { busySeconds: 60, idleSeconds: 60 } }));
  cp.responders.set('heartbeat', () => ({ status: 200, body: { nextHeartbeatSeconds: 60, stale: [], cancel: [] } }));
  await cp.start();
  agent = startAgent(cp.url, { GPUPOOL_DRAIN_SECONDS: '0' });
  await agent.ready();
});

afterAll(async () => {
  expect(await agent?.stop()).toBe(0);
  await cp?.close();
  await sqs?.close();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('the readiness probe', () => {
  it('counts 2xx and 3xx (not followed) as ready; 4xx, 5xx, no answer within the timeout and a refused connection as not', async () => {
    const verdicts = await Promise.all(['/200', '/204', '/302', '/404', '/500', '/503'].map((p) => probeReadiness(port, p)));
    expect(verdicts).toEqual([true, true, true, false, false, false]);
    expect(await probeReadiness(port, '/hang', 200)).toBe(false);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await probeReadiness(free, '/200')).toBe(false);
  });
});

describe('readiness in heartbeats', () => {
  const readyFile = join(dir, 'ready');
  const msg = dispatch([process.execPath, REPLICA], {
    gpus: 0,
    maxDurationSeconds: 3600,
    env: { READY_FILE: readyFile },
    service: { id: 'svc-ready', port: 8000, readinessPath: '/ready' },
  });
  const report = (c: Call) => c.body.services?.find((s: { attemptId: string }) => s.attemptId === msg.attemptId);
  const beatsSince = (n: number) => cp.of('heartbeat').slice(n);

  it('reports a replica ready at once when its probe passes, then not ready at once when it fails', async () => {
    await sqs.send(msg);
    await cp.waitFor('start', (c) => c.body.attemptId === msg.attemptId);
    // the replica answers 503 until the file exists
    expect(cp.of('heartbeat').some((c) => report(c)?.ready)).toBe(false);
    const before = cp.of('heartbeat').length;
    writeFileSync(readyFile, '');
    const up = await cp.waitFor('heartbeat', (c) => report(c)?.ready === true, 10_000);
    expect(report(up)).toEqual({ attemptId: msg.attemptId, ready: true });
    // the early beat: one of the beats since the flip, each carrying the replica, none waiting out the 60 s period
    expect(beatsSince(before).every((c) => report(c) !== undefined)).toBe(true);

    const n = cp.of('heartbeat').length;
    rmSync(readyFile);
    await cp.waitFor('heartbeat', (c) => beatsSince(n).includes(c) && report(c)?.ready === false, 10_000);
  });

  it('leaves an ended replica out of the heartbeat', async () => {
    await sqs.send({ type: 'cancel', jobId: msg.jobId, attemptId: msg.attemptId });
    await cp.waitFor('finish', (c) => c.body.attemptId === msg.attemptId);
    const n = cp.of('heartbeat').length;
    // a flip of another replica sends a beat at once; it must not list the ended one
    const other = dispatch([process.execPath, REPLICA], { gpus: 0, maxDurationSeconds: 3600, service: { id: 'svc-other', port: 8000, readinessPath: '/ready' } });
    await sqs.send(other);
    const beat = await cp.waitFor('heartbeat', (c) => beatsSince(n).includes(c) && c.body.services?.some((s: { attemptId: string; ready: boolean }) => s.attemptId === other.attemptId && s.ready), 10_000);
    expect(report(beat)).toBeUndefined();
    await sqs.send({ type: 'cancel', jobId: other.jobId, attemptId: other.attemptId });
    await cp.waitFor('finish', (c) => c.body.attemptId === other.attemptId);
  });
});
