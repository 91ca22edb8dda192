// The node's ingress for service traffic (agent/service/ingress.ts), through the whole agent in process
// against a fake control plane: real replica processes (test/agent/helpers/replica.mjs) on the ports the
// agent picked, reached at the agent's probe server under /s/<serviceId>/… with the routing tier's pass.
// Attacks: an outsider who knows the node's address, a pass for another service or another node, an
// expired, over-long or forged pass; and a hostile replica reading the caller's credentials.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyPairFromSecret } from '../../functions/domain/checker/signing';
import { makeRoutePass, ROUTE_PASS_HEADER } from '../../functions/domain/service/route-pass';
import { dispatch, startAgent, type RunningAgent } from './helpers/agent';
import { FakeControlPlane, sessionOn } from './helpers/fake-control-plane';
import { startSqs, type LocalSqs } from './helpers/sqs';
import { wsOpen, wsReceive, wsSend } from '../helpers/ws';

const REPLICA = fileURLToPath(new URL('./helpers/replica.mjs', import.meta.url));
const cpKey = keyPairFromSecret(randomBytes(32).toString('hex'));
const NODE = 'node-1';
let sqs: LocalSqs;
let cp: FakeControlPlane;
let agent: RunningAgent;
let origin = '';

const replica = (serviceId: string, command = [process.execPath, REPLICA]) =>
  dispatch(command, { gpus: 0, maxDurationSeconds: 3600, service: { id: serviceId, port: 8000, readinessPath: '/ready' } });
const pass = (serviceId: string, node = NODE, now = Date.now()) => makeRoutePass(cpKey.privateKey, serviceId, node, now);
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${origin}${path}`, { headers });
/** node's own client: fetch refuses to send a Connection header */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** resolves once a heartbeat reports `attemptId` ready */
const readyBeat = (attemptId: string) => cp.waitFor('heartbeat', (c) => c.body.services?.some((s: any) => s.attemptId === attemptId && s.ready), 15_000);

const api = replica('svc-api');
const rr = [replica('svc-rr'), replica('svc-rr')];
const deaf = replica('svc-deaf', ['sleep', '60']);

beforeAll(async () => {
  sqs = await startSqs();
  cp = new FakeControlPlane(() => sessionOn(sqs, { nodeId: NODE, controlPlanePublicKey: cpKey.publicKeyText }));
  await cp.start();
  agent = startAgent(cp.url, { GPUPOOL_DRAIN_SECONDS: '0' });
  await agent.ready();
  origin = new URL(cp.of('register')[0].body.probeUrl).origin;
  for (const m of [api, ...rr, deaf]) await sqs.send(m);
  await Promise.all([api, ...rr].map((m) => readyBeat(m.attemptId)));
  await cp.waitFor('start', (c) => c.body.attemptId === deaf.attemptId);
}, 30_000);

afterAll(async () => {
  expect(await agent?.stop()).toBe(0);
  await cp?.close();
  await sqs?.close();
});

describe('the node ingress', () => {
  it('forwards /s/<service>/<rest> with a valid pass to the replica, path and query intact', async () => {
    const r = await get('/s/svc-api/v1/models?x=1', { [ROUTE_PASS_HEADER]: pass('svc-api') });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ attempt: api.attemptId, method: 'GET', url: '/v1/models?x=1' });
    const root = await get('/s/svc-api', { [ROUTE_PASS_HEADER]: pass('svc-api') });
    expect(await root.json()).toMatchObject({ url: '/' });
  });

  it('refuses an outsider who knows the node’s address: no pass, 403, and the replica never sees it', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const r = await fetch(`${origin}/s/svc-api/v1/models`, { method, ...(method === 'POST' ? { body: 'x' } : {}) });
      expect(r.status).toBe(403);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(await r.json()).toMatchObject({ status: 403, title: 'Forbidden' });
    }
    // an outsider cannot tell a running service from a missing one either
    expect((await get('/s/svc-none/')).status).toBe(403);
  });

  it('refuses a pass for another service, another node, an expired, over-long, tampered or forged one', async () => {
    const now = Date.now();
    const forger = keyPairFromSecret(randomBytes(32).toString('hex'));
    const good = pass('svc-api');
    const [payload, sig] = good.split('.');
    const tampered = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), s: 'svc-rr' })).toString('base64url')}.${sig}`;
    const bad: Record<string, string> = {
      'another service (svc-rr’s pass at /s/svc-api)': pass('svc-rr'),
      'another node': pass('svc-api', 'node-2'),
      expired: makeRoutePass(cpKey.privateKey, 'svc-api', NODE, now - 200_000),
      'over-long': makeRoutePass(cpKey.privateKey, 'svc-api', NODE, now, 3_600_000),
      forged: makeRoutePass(forger.privateKey, 'svc-api', NODE, now),
      tampered,
      garbage: 'x.y',
    };
    for (const [why, p] of Object.entries(bad)) {
      const r = await get('/s/svc-api/v1/models', { [ROUTE_PASS_HEADER]: p });
      expect(r.status, why).toBe(403);
    }
    // the tampered pass names svc-rr; it is refused there too
    expect((await get('/s/svc-rr/', { [ROUTE_PASS_HEADER]: tampered })).status).toBe(403);
  });

  it('answers 404 to a valid pass for a service with no replica here, 502 when the replica refuses connections', async () => {
    const none = await get('/s/svc-none/x', { [ROUTE_PASS_HEADER]: pass('svc-none') });
    expect(none.status).toBe(404);
    expect(await none.json()).toMatchObject({ status: 404 });
    const deafR = await get('/s/svc-deaf/x', { [ROUTE_PASS_HEADER]: pass('svc-deaf') });
    expect(deafR.status).toBe(502);
    expect(await deafR.json()).toMatchObject({ status: 502, title: 'Bad Gateway' });
  });

  it('never forwards the pass, the caller’s credentials or hop-by-hop headers to the replica', async () => {
    const r = await rawGet('/s/svc-api/headers', {
      [ROUTE_PASS_HEADER]: pass('svc-api'),
      authorization: 'Bearer caller-secret',
      'x-api-key': 'gp_caller_key',
      'x-gpupool-token': 'service-token',
      connection: 'x-hop',
      'x-hop': 'per-hop',
      'x-request-id': 'kept',
    });
    expect(r.status).toBe(200);
    const { headers } = JSON.parse(r.body) as { headers: Record<string, string> };
    expect(headers['x-request-id']).toBe('kept');
    for (const h of [ROUTE_PASS_HEADER, 'authorization', 'x-api-key', 'x-gpupool-token', 'x-hop']) expect(headers[h], h).toBeUndefined();
    expect(JSON.stringify(headers)).not.toMatch(/caller-secret|gp_caller_key|service-token/);
  });

  it('streams a POST body both ways: the first chunk comes back before the second is sent', async () => {
    const url = new URL(`${origin}/s/svc-api/echo`);
    const received: string[] = [];
    const done = new Promise<{ status: number; replica: string; body: string }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { [ROUTE_PASS_HEADER]: pass('svc-api') } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          received.push(d);
          // the second chunk goes only once the first has made the round trip: nothing buffers the stream
          if (received.join('') === 'first-chunk;') req.end('second-chunk');
        });
        res.on('end', () => resolve({ status: res.statusCode!, replica: String(res.headers['x-replica']), body: received.join('') }));
      });
      req.on('error', reject);
      req.write('first-chunk;');
    });
    expect(await done).toEqual({ status: 200, replica: api.attemptId, body: 'first-chunk;second-chunk' });
  });

  it('shares requests among the replicas of one service on this node round-robin', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(((await (await get('/s/svc-rr/', { [ROUTE_PASS_HEADER]: pass('svc-rr') })).json()) as { attempt: string }).attempt);
    expect(new Set(seen)).toEqual(new Set(rr.map((m) => m.attemptId)));
    expect(seen[0]).not.toBe(seen[1]);
    expect(seen[2]).toBe(seen[0]);
    expect(seen[3]).toBe(seen[1]);
  });

  it('tunnels a WebSocket to the replica with a valid pass; refuses one without a pass (403) or to a service not here (404)', async () => {
    const open = await wsOpen(`${origin}/s/svc-rr/ws`, { [ROUTE_PASS_HEADER]: pass('svc-rr'), authorization: 'Bearer caller-secret' });
    expect(open.status).toBe(101);
    if (!open.ok) return;
    expect(open.acceptOk).toBe(true);
    wsSend(open.socket, 'hello');
    const first = await wsReceive(open.socket);
    expect(rr.map((m) => `${m.attemptId}:hello`)).toContain(first);
    // the same connection stays on the same replica, both ways
    wsSend(open.socket, 'again');
    expect(await wsReceive(open.socket)).toBe(first.replace('hello', 'again'));
    open.socket.destroy();
    const outsider = await wsOpen(`${origin}/s/svc-rr/ws`);
    expect(outsider.status).toBe(403);
    const elsewhere = await wsOpen(`${origin}/s/svc-rr/ws`, { [ROUTE_PASS_HEADER]: pass('svc-rr', 'node-2') });
    expect(elsewhere.status).toBe(403);
    expect((await wsOpen(`${origin}/s/svc-none/ws`, { [ROUTE_PASS_HEADER]: pass('svc-none') })).status).toBe(404);
  });

  it('keeps the probe endpoints as they were: anything else on the port is 404', async () => {
    expect((await fetch(`${origin}/probe`)).status).toBe(404);
    expect((await fetch(`${origin}/s`)).status).toBe(404);
  });

  it('stops routing to a replica once it has ended', async () => {
    await sqs.send({ type: 'cancel', jobId: api.jobId, attemptId: api.attemptId });
    await cp.waitFor('finish', (c) => c.body.attemptId === api.attemptId);
    expect((await get('/s/svc-api/', { [ROUTE_PASS_HEADER]: pass('svc-api') })).status).toBe(404);
  });
});

describe('a caller without a pass', () => {
  it('cannot hold the connection open by trickling a body: refused at once, and the connection is closed', async () => {
    const url = new URL(origin);
    const { status, connection, closed } = await new Promise<{ status: number; connection?: string; closed: Promise<void> }>((resolve, reject) => {
      // a body announced as 1 MB of which one byte is ever sent
      const req = request({ host: url.hostname, port: url.port, path: '/s/svc-rr/upload', method: 'POST', headers: { 'content-length': String(1 << 20) } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, connection: res.headers.connection, closed: new Promise((r) => req.socket!.once('close', () => r())) });
      });
      req.on('error', () => undefined);
      req.write('x');
      setTimeout(() => reject(new Error('no answer')), 5_000).unref();
    });
    expect(status).toBe(403);
    expect(connection).toBe('close');
    await closed;
  });
});
