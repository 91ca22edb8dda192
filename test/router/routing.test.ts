// Where the routing tier sends requests, what it does when a replica fails, and the load it reports.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, putService, request, serviceItem, startHarness, startReplica, type Harness, type Replica } from './harness';

const FRANKFURT = { lat: 50.11, lon: 8.68 };
const PARIS = { lat: 48.86, lon: 2.35 };
const TOKYO = { lat: 35.68, lon: 139.69 };

let h: Harness;
const logs: string[] = [];
const woken: string[] = [];
const replicas: Replica[] = [];
const replica = async (serviceId: string) => {
  const r = await startReplica(serviceId, newId('node-'));
  replicas.push(r);
  return r;
};

beforeAll(async () => {
  h = await startHarness({ location: FRANKFURT, log: (m) => logs.push(m), wake: async (id) => void woken.push(id) });
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await h?.stop();
});

const auth = (token: string) => ({ 'x-gpupool-token': token });
const nodeOf = (r: { body: Buffer }) => (JSON.parse(r.body.toString()) as { node: string }).node;

describe('router: which replica', () => {
  it('sends every request to the nearest ready replica; one whose node has no location comes after located ones', async () => {
    const id = newId('svc');
    const [paris, tokyo, nowhere] = [await replica(id), await replica(id), await replica(id)];
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: tokyo, location: TOKYO }, { replica: nowhere }, { replica: paris, location: PARIS }] });
    for (let i = 0; i < 10; i++) {
      const r = await request(h, { path: `/s/${id}/x`, headers: auth(svc.token) });
      expect(r.status).toBe(200);
      expect(nodeOf(r)).toBe(paris.nodeId);
    }
    expect(tokyo.seen).toHaveLength(0);
    expect(nowhere.seen).toHaveLength(0);
    // Paris gone: Tokyo (located) before the node without a location
    await paris.stop();
    for (let i = 0; i < 5; i++) expect(nodeOf(await request(h, { path: `/s/${id}/x`, headers: auth(svc.token) }))).toBe(tokyo.nodeId);
    expect(nowhere.seen).toHaveLength(0);
  });

  it('only ready replicas of RUNNING jobs take traffic; none ready is a 503 problem with Retry-After', async () => {
    const id = newId('svc');
    const [notReady, queued] = [await replica(id), await replica(id)];
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: notReady, ready: false }, { replica: queued, status: 'QUEUED' }] });
    const r = await request(h, { path: `/s/${id}/`, headers: auth(svc.token) });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(r.body.toString()).status).toBe(503);
    expect(notReady.seen.length + queued.seen.length).toBe(0);
  });

  it('a client sending 200 requests one after another sees none fail while one of two replicas dies mid-stream', async () => {
    const id = newId('svc');
    const [a, b] = [await replica(id), await replica(id)];
    // equally near: the two share the requests until one dies
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: a, location: PARIS }, { replica: b, location: PARIS }] });
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      if (i === 60) await a.stop();
      const r = await request(h, { path: `/s/${id}/n/${i}`, method: 'POST', headers: { ...auth(svc.token), 'content-type': 'text/plain' }, body: `request ${i}` });
      statuses.push(r.status);
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // the dead replica was tried and the request went on to the other (not merely avoided)
    expect(logs.some((l) => l.includes(a.nodeId) && l.includes('trying the next'))).toBe(true);
    expect(a.seen.length).toBeGreaterThan(0);
    expect(a.seen.length).toBeLessThanOrEqual(60);
    expect(b.seen.length).toBeGreaterThanOrEqual(140);
  });

  it('never retries once a byte of the answer was sent: the caller sees the cut, the other replica sees nothing', async () => {
    const id = newId('svc');
    const [near, far] = [await replica(id), await replica(id)];
    near.answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial answer');
      setTimeout(() => res.socket?.destroy(), 50);
    };
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: near, location: PARIS }, { replica: far, location: TOKYO }] });
    const outcome = await new Promise<{ status?: number; got: string; error?: string }>((resolve) => {
      let got = '';
      const req = http.request({ host: '127.0.0.1', port: h.port, path: `/s/${id}/gen`, headers: auth(svc.token), agent: false }, (res) => {
        res.on('data', (c: Buffer) => (got += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode, got }));
        res.on('error', (e) => resolve({ status: res.statusCode, got, error: e.message }));
        res.on('aborted', () => resolve({ status: res.statusCode, got, error: 'aborted' }));
      });
      req.on('error', (e) => resolve({ got, error: e.message }));
      req.end();
    });
    expect(outcome.status).toBe(200);
    expect(outcome.got).toBe('partial answer');
    expect(outcome.error).toBeDefined();
    expect(near.seen).toHaveLength(1);
    expect(far.seen).toHaveLength(0);
  });

  it('streams a large body both ways: the node sees the first bytes before the caller has sent the rest', async () => {
    const id = newId('svc');
    const echo = await replica(id);
    let firstBytesAt = 0;
    echo.answer = (req, res) => {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (c: Buffer) => {
        if (!firstBytesAt) firstBytesAt = Date.now();
        hash.update(c);
        size += c.length;
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-size': String(size), 'x-sha256': hash.digest('hex') });
        // answer 8 MiB back, in pieces
        const piece = Buffer.alloc(1024 * 1024, 7);
        for (let i = 0; i < 8; i++) res.write(piece);
        res.end();
      });
    };
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: echo }] });
    const part = Buffer.alloc(3 * 1024 * 1024, 1);
    const whole = createHash('sha256').update(part).update(part).digest('hex');
    const r = await new Promise<{ status: number; size: string; sha: string; bytes: number }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: h.port, path: `/s/${id}/upload`, method: 'PUT', headers: { ...auth(svc.token), 'content-length': String(part.length * 2) }, agent: false }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, size: String(res.headers['x-size']), sha: String(res.headers['x-sha256']), bytes }));
      });
      req.on('error', reject);
      req.write(part);
      // the second half goes only once the node has seen bytes of the first: nothing waits for the whole body
      const wait = setInterval(() => {
        if (!firstBytesAt) return;
        clearInterval(wait);
        req.end(part);
      }, 5);
    });
    expect(r.status).toBe(200);
    expect(r.size).toBe(String(part.length * 2));
    expect(r.sha).toBe(whole);
    expect(r.bytes).toBe(8 * 1024 * 1024);
  });

  it('writes load.<routerId> = {inflight: peak of the interval, at}, only when it changed', async () => {
    const id = newId('svc');
    const slow = await replica(id);
    const release: (() => void)[] = [];
    slow.answer = (_req, res) => release.push(() => res.end('done'));
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: slow }] });
    // the earlier tests' services report their last figures and are forgotten once idle
    for (let i = 0; i < 3; i++) await h.router.flushLoad();
    expect(await h.router.flushLoad()).toBe(0);
    const pending = [0, 1, 2].map(() => request(h, { path: `/s/${id}/slow`, headers: auth(svc.token) }));
    await expect.poll(() => slow.seen.length).toBe(3);
    expect(await h.router.flushLoad()).toBe(1);
    const first = (await serviceItem(h, id))?.load as Record<string, { inflight: number; at: number }>;
    expect(first.r1.inflight).toBe(3);
    // unchanged: no write
    expect(await h.router.flushLoad()).toBe(0);
    release.splice(0).forEach((f) => f());
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200, 200]);
    // the interval's peak was 3, so the next figure is 3 again (nothing written), then 0
    expect(await h.router.flushLoad()).toBe(0);
    expect(await h.router.flushLoad()).toBe(1);
    const after = (await serviceItem(h, id))?.load as Record<string, { inflight: number; at: number }>;
    expect(after.r1.inflight).toBe(0);
    expect(after.r1.at).toBeGreaterThanOrEqual(first.r1.at);
  });

  it('asks for a reconcile at once when its load is beyond desired × targetInflight with room to grow, once per interval', async () => {
    const [id, full] = [newId('svc'), newId('svc')];
    const [slow, slowFull] = [await replica(id), await replica(full)];
    const release: (() => void)[] = [];
    slow.answer = (_req, res) => release.push(() => res.end('done'));
    slowFull.answer = (_req, res) => release.push(() => res.end('done'));
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: slow }], scale: { desired: 1, max: 3, targetInflight: 2 } });
    // already at its max: more load cannot add a replica, so no wake
    const atMax = await putService(h, { id: full, accountId: 'a1', replicas: [{ replica: slowFull }], scale: { desired: 3, max: 3, targetInflight: 1 } });
    const pending = [
      ...[0, 1].map(() => request(h, { path: `/s/${id}/slow`, headers: auth(svc.token) })),
      ...[0, 1, 2, 3].map(() => request(h, { path: `/s/${full}/slow`, headers: auth(atMax.token) })),
    ];
    await expect.poll(() => slow.seen.length + slowFull.seen.length).toBe(6);
    // 2 in flight is not beyond 1 × 2
    await h.router.flushLoad();
    expect(woken).toEqual([]);
    pending.push(request(h, { path: `/s/${id}/slow`, headers: auth(svc.token) }));
    await expect.poll(() => slow.seen.length).toBe(3);
    await h.router.flushLoad();
    expect(woken).toEqual([id]);
    // a fourth request changes the load again, but a wake went out less than the interval ago
    pending.push(request(h, { path: `/s/${id}/slow`, headers: auth(svc.token) }));
    await expect.poll(() => slow.seen.length).toBe(4);
    await h.router.flushLoad();
    expect(woken).toEqual([id]);
    release.splice(0).forEach((f) => f());
    await Promise.all(pending);
  });
});
