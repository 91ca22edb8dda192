// Services end to end on the local stack (issue 17): real agent processes run the replicas (process
// runtime, a small node HTTP server each), the local gateway routes /s/<id>/… to ready replicas. Create,
// ready, traffic, a replica's agent killed with kill -9 under a steady stream of requests (a client that
// retries once sees no error; the service is whole again within 30 s), a rolling update under traffic
// with no failed request, scale up and down, delete; the ledger audit stays clean throughout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEADLINES } from '../../functions/domain/job/deadlines';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { wsOpen, wsReceive, wsSend } from '../helpers/ws';

const FAST = { heartbeat: { busySeconds: 1, idleSeconds: 2 }, deadlines: { ...DEFAULT_DEADLINES, dispatchTimeoutMs: 4000, timeoutGraceMs: 2000, cancelGraceMs: 5000 } };

/** The replica: answers /health once listening, and everything else with its version and attempt. */
const SERVER = `
const http = require('node:http');
const s = http.createServer((q, r) => {
  if (q.url === '/health') return r.end('ok');
  let body = '';
  q.on('data', (c) => (body += c));
  q.on('end', () => {
    const answer = () => { r.setHeader('content-type', 'application/json'); r.end(JSON.stringify({ v: process.env.VERSION, attempt: process.env.GPUPOOL_ATTEMPT_ID, path: q.url, body, auth: q.headers.authorization ?? null, apiKey: q.headers['x-api-key'] ?? null })); };
    if (q.url.startsWith('/slow')) setTimeout(answer, 1500); else answer();
  });
});
// a WebSocket at /ws answering each short text frame with "<version>:<text>"
s.on('upgrade', (q, sock) => {
  const accept = require('node:crypto').createHash('sha1').update(q.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  sock.on('data', (b) => {
    const m = b.subarray(2, 6);
    const out = Buffer.from(process.env.VERSION + ':' + Buffer.from(b.subarray(6, 6 + (b[1] & 0x7f)).map((x, i) => x ^ m[i % 4])).toString());
    sock.write(Buffer.concat([Buffer.from([0x81, out.length]), out]));
  });
});
s.listen(Number(process.env.PORT), '127.0.0.1');
`;

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let other: Awaited<ReturnType<Pool['newAccount']>>;
const agents: Awaited<ReturnType<Pool['addAgent']>>[] = [];

const service = (id: string) => consumer.api.get(`/v1/services/${id}`).then((r) => r.body.service);
const readyReplicas = (s: any) => s.replicas.filter((r: any) => r.ready);
const whenReady = (id: string, n: number, timeoutMs = 30_000, gen?: number) =>
  eventually(async () => {
    const s = await service(id);
    const ready = readyReplicas(s).filter((r: any) => gen === undefined || r.generation === gen);
    const live = s.replicas.filter((r: any) => !['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(r.status));
    // the status is the reconciler's, written a moment after the readiness it follows
    return ready.length === n && live.length === n && s.status === 'RUNNING' ? s : undefined;
  }, timeoutMs, `service ${id} with ${n} ready replicas${gen ? ` of generation ${gen}` : ''}`);

/** One request through the service's URL, retried once on a failure, as the issue's client does. */
async function call(url: string, token: string, path = '/hello'): Promise<{ ok: boolean; body?: any; status?: number }> {
  for (let tryNo = 0; tryNo < 2; tryNo++) {
    try {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      if (res.ok) return { ok: true, body: JSON.parse(text), status: res.status };
      if (tryNo === 1) return { ok: false, status: res.status, body: text };
    } catch (e) {
      if (tryNo === 1) return { ok: false, body: String(e) };
    }
  }
  return { ok: false };
}

/** Sends requests one after another until stopped; counts the ones that failed after their retry. */
function steadyStream(url: string, token: string) {
  let stop = false;
  const failures: unknown[] = [];
  const versions: string[] = [];
  let sent = 0;
  const done = (async () => {
    while (!stop) {
      const r = await call(url, token);
      sent++;
      if (!r.ok) failures.push(r);
      else versions.push(r.body.v);
    }
  })();
  return {
    failures,
    versions,
    sent: () => sent,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

beforeAll(async () => {
  pool = await startPool({ settings: FAST, reaperMs: 250, sweepMs: 500 });
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  other = await pool.newAccount('consumer', 'other');
  for (let i = 0; i < 4; i++) agents.push(await pool.addAgent({ name: `svc-${i}`, gpus: '1xL4-24', providerKey: provider.key, price: 1_000_000 + i }));
}, 120_000);
afterAll(async () => {
  if (pool) expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  await pool?.stop();
});

describe('a service on the local stack', () => {
  let id: string;
  let url: string;
  let token: string;

  it('is created, becomes ready on two replicas on two nodes, and answers at its URL', async () => {
    const r = await consumer.api.post('/v1/services', {
      name: 'echo',
      command: [process.execPath, '-e', SERVER],
      env: { VERSION: '1' },
      port: 8080,
      replicas: { min: 2, max: 2 },
      resources: { gpus: 1, gpuModels: ['L4'] },
      readiness: { path: '/health' },
    });
    expect(r.status).toBe(201);
    expect(r.body.token).toEqual(expect.any(String));
    expect(JSON.stringify(r.body.service)).not.toContain(r.body.token);
    ({ id, url } = r.body.service);
    token = r.body.token;
    expect(url).toBe(`${pool.stack.apiUrl}/s/${id}`);
    const s = await whenReady(id, 2);
    expect(new Set(s.replicas.map((x: any) => x.nodeId)).size).toBe(2);
    expect(s.status).toBe('RUNNING');

    const a = await call(url, token, '/hello?x=1');
    expect(a).toMatchObject({ ok: true, body: { v: '1', path: '/hello?x=1', auth: null, apiKey: null } });
    // the owner's API key works too, and never reaches the node
    const byKey = await fetch(`${url}/k`, { headers: { 'x-api-key': consumer.key } });
    expect(byKey.status).toBe(200);
    expect(await byKey.json()).toMatchObject({ v: '1', apiKey: null });
    // a body goes through
    const posted = await fetch(`${url}/echo`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'x'.repeat(100_000) });
    expect(((await posted.json()) as { body: string }).body).toHaveLength(100_000);
  }, 90_000);

  it('lets no one else in: no credential, a wrong token, another account\'s key', async () => {
    expect((await fetch(`${url}/hello`)).status).toBe(401);
    expect((await fetch(`${url}/hello`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(`${url}/hello`, { headers: { 'x-api-key': other.key } })).status).toBe(404);
    expect((await other.api.get(`/v1/services/${id}`)).status).toBe(404);
    expect((await other.api.del(`/v1/services/${id}`)).status).toBe(404);
    // the node's ingress refuses a request that did not come through the routing tier
    const s = await service(id);
    const direct = await fetch(`${s.replicas[0].endpoint}/s/${id}/hello`);
    expect(direct.status).toBe(403);
  });

  it('carries a WebSocket through its URL with the token, and refuses one without', async () => {
    const open = await wsOpen(`${url}/ws`, { authorization: `Bearer ${token}` });
    expect(open.status).toBe(101);
    if (!open.ok) return;
    expect(open.acceptOk).toBe(true);
    wsSend(open.socket, 'ping');
    expect(await wsReceive(open.socket)).toBe('1:ping');
    open.socket.destroy();
    expect((await wsOpen(`${url}/ws`)).status).toBe(401);
    expect((await wsOpen(`${url}/ws`, { 'x-api-key': other.key })).status).toBe(404);
  });

  it('keeps answering when a replica\'s agent is killed with kill -9, and is whole again within 30 s', async () => {
    const before = await service(id);
    const victimNode = before.replicas[0].nodeId;
    const victim = agents.find((a) => a.nodeId === victimNode)!;
    const stream = steadyStream(url, token);
    await eventually(async () => (stream.sent() >= 20 ? true : undefined), 10_000, 'some traffic before the kill');
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    const healed = await eventually(
      async () => {
        const s = await service(id);
        const ready = readyReplicas(s).filter((r: any) => r.nodeId !== victimNode);
        return ready.length === 2 ? s : undefined;
      },
      30_000,
      'two ready replicas on live nodes',
    );
    const healedMs = Date.now() - killedAt;
    await eventually(async () => (stream.sent() >= 40 ? true : undefined), 10_000, 'traffic after the heal');
    await stream.stop();
    console.log(`services: kill -9 of a replica's agent → two ready replicas again in ${healedMs} ms; ${stream.sent()} requests, ${stream.failures.length} failed after one retry`);
    expect(stream.failures).toEqual([]);
    expect(healed.replicas.every((r: any) => r.nodeId !== victimNode || !r.ready)).toBe(true);
    expect(healedMs).toBeLessThan(30_000);
  }, 60_000);

  it('rolls out a new env with no failed request: a new replica is ready before an old one stops', async () => {
    const stream = steadyStream(url, token);
    const p = await consumer.api.patch(`/v1/services/${id}`, { env: { VERSION: '2' } });
    expect(p.status).toBe(200);
    const s = await whenReady(id, 2, 45_000, p.body.service.generation);
    await eventually(async () => (stream.versions.at(-1) === '2' ? true : undefined), 10_000, 'version 2 answering');
    await stream.stop();
    expect(stream.failures).toEqual([]);
    // the old generation's replicas are listed as ended; every live one is of the new generation
    const live = s.replicas.filter((r: any) => !['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(r.status));
    expect(live.map((r: any) => r.generation)).toEqual([p.body.service.generation, p.body.service.generation]);
    // surge 1: both versions answer while the rollout runs; once it is done only the new one does
    expect((await call(url, token)).body.v).toBe('2');
  }, 60_000);

  it('scales up and down', async () => {
    expect((await consumer.api.patch(`/v1/services/${id}`, { replicas: { min: 3, max: 3 } })).status).toBe(200);
    await whenReady(id, 3);
    expect((await consumer.api.patch(`/v1/services/${id}`, { replicas: { min: 1, max: 1 } })).status).toBe(200);
    const s = await whenReady(id, 1);
    expect((await call(url, token)).ok).toBe(true);
    expect(s.replicasWanted).toMatchObject({ min: 1, max: 1, desired: 1 });
  }, 60_000);

  it('is deleted: every replica stops, the URL stops answering, the money is settled', async () => {
    const r = await consumer.api.del(`/v1/services/${id}`);
    expect(r.status).toBe(202);
    const s = await eventually(async () => {
      const x = await service(id);
      return x.status === 'DELETED' ? x : undefined;
    }, 30_000, 'service DELETED');
    expect(s.replicas.filter((x: any) => x.ready)).toEqual([]);
    const after = await fetch(`${url}/hello`, { headers: { authorization: `Bearer ${token}` } });
    expect([401, 404, 503]).toContain(after.status);
    const balance = (await consumer.api.get('/v1/balance')).body;
    expect(balance.held).toBe(0);
  }, 60_000);
});
