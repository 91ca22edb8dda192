// The typed API client against a tiny local HTTP server: what it retries, how long it waits, and the
// Idempotency-Key it keeps across the tries of one creating call.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, GpupoolClient, NetworkError, parseRetryAfter } from '../../client/index';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}
type Answer = (req: Seen, n: number) => { status: number; body?: unknown; headers?: Record<string, string> } | 'drop';

let server: Server | undefined;
async function stopServer(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
}
afterEach(stopServer);

/** A server that answers the n-th request (from 0) as `answer` says; 'drop' closes the connection unanswered. */
async function serve(answer: Answer): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, body, at: Date.now() };
      seen.push(s);
      const a = answer(s, seen.length - 1);
      if (a === 'drop') return void req.socket.destroy();
      res.writeHead(a.status, { 'content-type': a.status >= 400 ? 'application/problem+json' : 'application/json', ...a.headers });
      res.end(a.body === undefined ? '' : JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, seen };
}

const problem = (status: number, title: string) => ({ type: 'about:blank', title, status, detail: `${title} here` });
const throttled = (retryAfter?: string) => ({ status: 429, body: problem(429, 'Too Many Requests'), headers: (retryAfter ? { 'retry-after': retryAfter } : {}) as Record<string, string> });
const job = { job: { id: 'j1', status: 'QUEUED' } };
/** the waits the client asked for, passed at once */
const recorder = () => {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
};

describe('429: throttled calls', () => {
  it('waits out Retry-After (seconds) before the next try, then succeeds', async () => {
    const { url, seen } = await serve((_r, n) => (n === 0 ? throttled('1') : { status: 200, body: { accountId: 'a1', role: 'consumer', available: 5, held: 0, staked: 0 } }));
    const c = new GpupoolClient({ baseUrl: url, apiKey: 'gp_k' });
    const b = await c.balance();
    expect(b.accountId).toBe('a1');
    expect(seen).toHaveLength(2);
    expect(seen[1].at - seen[0].at).toBeGreaterThanOrEqual(1000);
    expect(seen.map((s) => s.headers['x-api-key'])).toEqual(['gp_k', 'gp_k']);
  });

  it('reads Retry-After as an HTTP date too, and retries a throttled POST that carries no key (a 429 did nothing)', async () => {
    const { url, seen } = await serve((_r, n) => (n === 0 ? throttled(new Date(Date.now() + 3000).toUTCString()) : { status: 200, body: { available: 1 } }));
    const r = recorder();
    const c = new GpupoolClient({ baseUrl: url, sleep: r.sleep });
    await c.stake(5);
    expect(seen.map((s) => s.method)).toEqual(['POST', 'POST']);
    expect(seen[0].headers['idempotency-key']).toBeUndefined();
    expect(r.waits).toHaveLength(1);
    // whole seconds in the date format: 2-3 s from now
    expect(r.waits[0]).toBeGreaterThan(1000);
    expect(r.waits[0]).toBeLessThanOrEqual(3000);
  });

  it('without Retry-After backs off exponentially with jitter, and gives up after the retry cap with the 429', async () => {
    const { url, seen } = await serve(() => throttled());
    const r = recorder();
    const c = new GpupoolClient({ baseUrl: url, sleep: r.sleep, random: () => 1, retry: { retries: 3, baseDelayMs: 100, maxDelayMs: 300 } });
    const e = await c.balance().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(429);
    expect(seen).toHaveLength(4);
    expect(r.waits).toEqual([100, 200, 300]);
  });

  it('does not wait out a Retry-After beyond maxRetryAfterMs: the 429 comes back at once', async () => {
    const { url, seen } = await serve(() => throttled('3600'));
    const r = recorder();
    const c = new GpupoolClient({ baseUrl: url, sleep: r.sleep });
    const e = (await c.listJobs().catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(429);
    expect(e.retryAfterMs).toBe(3_600_000);
    expect(seen).toHaveLength(1);
    expect(r.waits).toEqual([]);
  });
});

describe('Idempotency-Key on creating calls', () => {
  it('submitJob keeps one key across its tries after 5xx and a lost connection; the next submit has a new key', async () => {
    const { url, seen } = await serve((_r, n) => (n === 0 ? { status: 503, body: problem(503, 'Service Unavailable') } : n === 1 ? 'drop' : { status: 202, body: job }));
    const r = recorder();
    const c = new GpupoolClient({ baseUrl: url, apiKey: 'gp_k', sleep: r.sleep });
    const spec = { command: ['echo', 'hi'], resources: { gpus: 1 } };
    expect((await c.submitJob(spec)).job.id).toBe('j1');
    expect(seen).toHaveLength(3);
    const key = seen[0].headers['idempotency-key'];
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.map((s) => s.headers['idempotency-key'])).toEqual([key, key, key]);
    expect(seen.map((s) => JSON.parse(s.body))).toEqual([spec, spec, spec]);
    await c.submitJob(spec);
    expect(seen[3].headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[3].headers['idempotency-key']).not.toBe(key);
  });

  it('uses the caller\'s own key, and sends one on every creating call (accounts, keys, credits)', async () => {
    const { url, seen } = await serve(() => ({ status: 201, body: { keyId: 'k', apiKey: 'gp_x', accountId: 'a', available: 1, held: 0, staked: 0 } }));
    const c = new GpupoolClient({ baseUrl: url });
    await c.submitJob({ command: ['x'], resources: { gpus: 1 } }, { idempotencyKey: 'order-42' });
    await c.createAccount({ name: 'n', role: 'consumer' });
    await c.createKey('a');
    await c.mintCredits('a', { amount: 5 });
    expect(seen[0].headers['idempotency-key']).toBe('order-42');
    expect(seen.slice(1).map((s) => `${s.method} ${s.url} ${/^[0-9a-f-]{36}$/.test(String(s.headers['idempotency-key']))}`)).toEqual([
      'POST /v1/accounts true',
      'POST /v1/accounts/a/keys true',
      'POST /v1/accounts/a/credits true',
    ]);
  });
});

describe('transient errors', () => {
  it('a GET is retried after a lost connection and a 502; a call without a key that may have acted is not', async () => {
    const { url, seen } = await serve((r, n) => (r.method === 'GET' ? (n === 0 ? 'drop' : n === 1 ? { status: 502, body: problem(502, 'Bad Gateway') } : { status: 200, body: job }) : { status: 503, body: problem(503, 'Service Unavailable') }));
    const r = recorder();
    const c = new GpupoolClient({ baseUrl: url, sleep: r.sleep });
    expect((await c.getJob('j1')).job.id).toBe('j1');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /v1/jobs/j1', 'GET /v1/jobs/j1', 'GET /v1/jobs/j1']);
    // stake has no Idempotency-Key on the server: a 5xx may have come after it staked, so no second try
    await expect(c.stake(1)).rejects.toMatchObject({ status: 503 });
    await expect(c.cancelJob('j1')).rejects.toMatchObject({ status: 503 });
    expect(seen.slice(3).map((s) => s.method)).toEqual(['POST', 'DELETE']);
    expect(r.waits).toHaveLength(2);
  });

  it('a 4xx is never retried; a closed port is a NetworkError after the tries', async () => {
    const { url, seen } = await serve(() => ({ status: 400, body: { ...problem(400, 'Bad Request'), errors: [{ path: 'resources.gpus', message: 'too small' }] } }));
    const c = new GpupoolClient({ baseUrl: url, sleep: async () => undefined });
    const e = (await c.submitJob({ command: ['x'], resources: { gpus: 1 } }).catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.message).toBe('Bad Request: Bad Request here');
    expect(e.hints).toEqual(['resources.gpus: too small']);
    expect(seen).toHaveLength(1);
    await stopServer();
    const r = recorder();
    const gone = new GpupoolClient({ baseUrl: url, sleep: r.sleep, retry: { retries: 2 } });
    const n = (await gone.health().catch((x: unknown) => x)) as NetworkError;
    expect(n).toBeInstanceOf(NetworkError);
    expect(n.message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(r.waits).toHaveLength(2);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, ignores junk', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
