// Completion webhooks end to end on the local stack: a real agent runs the jobs, the jobs table's stream
// triggers the delivery, a real HTTP receiver on a free port verifies every signature with the account's
// secret, a receiver that fails twice sees the retries (delays shortened to 1 s), and GET /v1/jobs/{id}
// shows each attempt.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../functions/domain/webhook/signing';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

interface Received {
  path: string;
  body: string;
  signature: string;
  attempt: string;
  at: number;
}

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let receiver: Server;
let base: string;
const received: Received[] = [];
/** path → statuses to answer, in order; then 200 */
const script = new Map<string, number[]>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['gpupool-signature'] ?? ''), attempt: String(req.headers['gpupool-attempt'] ?? ''), at: Date.now() });
      const status = script.get(path)?.shift() ?? 200;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  pool = await startPool({ webhooks: { retryDelaysSeconds: [1, 1, 1] } });
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  await pool.addAgent({ name: 'wh-a', gpus: '2xA100-80', providerKey: provider.key });
}, 90_000);

afterAll(async () => {
  await pool?.stop();
  await new Promise((r) => receiver?.close(r));
});

const secretOf = async () => {
  const r = await consumer.api.get(`/v1/accounts/${consumer.id}/webhook-secret`);
  expect(r.status).toBe(200);
  return r.body.secret as string;
};

const deliveriesOf = (id: string, n: number) =>
  eventually(async () => {
    const job = (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
    const d = job.webhook?.deliveries ?? [];
    return d.length >= n && d.every((x: { state: string }) => x.state !== 'SENDING') ? job : undefined;
  }, 30_000, `${n} delivery attempt(s) of ${id}`);

describe('completion webhooks', () => {
  it('POSTs the final job, signed with the account secret, and records the delivery', async () => {
    const r = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'echo hi'], resources: { gpus: 1 }, webhook: { url: `${base}/ok` } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const id = r.body.job.id;
    const job = await deliveriesOf(id, 1);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.webhook.url).toBe(`${base}/ok`);
    expect(job.webhook.deliveries).toEqual([expect.objectContaining({ attempt: 1, state: 'DELIVERED', statusCode: 200, error: null, nextRetryAt: null })]);

    const got = received.filter((x) => x.path === '/ok');
    expect(got).toHaveLength(1);
    const secret = await secretOf();
    expect(secret).toMatch(/^whsec_/);
    expect(verifySignature(got[0].signature, got[0].body, secret, Math.floor(Date.now() / 1000))).toBe(true);
    expect(verifySignature(got[0].signature, got[0].body + ' ', secret, Math.floor(Date.now() / 1000))).toBe(false);
    const payload = JSON.parse(got[0].body);
    expect(payload).toMatchObject({ id: `evt_${id}`, type: 'job.finished', attempt: 1, job: { id, status: 'SUCCEEDED', exitCode: 0 } });
    // the payload is the job's answer (less the deliveries, which were still being made)
    const { webhook: _w, ...answer } = job;
    const { webhook: _pw, cost: _c, ...sent } = payload.job;
    const { cost: _ac, ...answerNoCost } = answer;
    expect(sent).toEqual(answerNoCost);
  });

  it('retries a receiver that fails twice, then succeeds; every attempt is recorded', async () => {
    script.set('/flaky', [500, 503]);
    const r = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'exit 3'], resources: { gpus: 1 }, webhook: { url: `${base}/flaky` } });
    const id = r.body.job.id;
    const job = await deliveriesOf(id, 3);
    expect(job.status).toBe('FAILED');
    const d = job.webhook.deliveries;
    expect(d.map((x: { attempt: number; state: string; statusCode: number }) => [x.attempt, x.state, x.statusCode])).toEqual([
      [1, 'FAILED', 500],
      [2, 'FAILED', 503],
      [3, 'DELIVERED', 200],
    ]);
    // a failed attempt says when the next one is due; the next one came no earlier
    expect(d[0].nextRetryAt).toBeGreaterThanOrEqual(d[0].at + 1000);
    expect(d[1].at).toBeGreaterThanOrEqual(d[0].nextRetryAt - 50);
    expect(d[2].nextRetryAt).toBeNull();
    const got = received.filter((x) => x.path === '/flaky');
    expect(got.map((x) => x.attempt)).toEqual(['1', '2', '3']);
    const secret = await secretOf();
    for (const x of got) expect(verifySignature(x.signature, x.body, secret, Math.floor(Date.now() / 1000))).toBe(true);
  });

  it('signs with the old and the new secret during the grace after a rotation', async () => {
    const old = await secretOf();
    const rot = await consumer.api.post(`/v1/accounts/${consumer.id}/webhook-secret`);
    expect(rot.status).toBe(200);
    expect(rot.body.secret).not.toBe(old);
    expect(rot.body.previousValidUntil).toBeGreaterThan(Date.now());
    const r = await consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, webhook: { url: `${base}/rotated` } });
    await deliveriesOf(r.body.job.id, 1);
    const [x] = received.filter((y) => y.path === '/rotated');
    const now = Math.floor(Date.now() / 1000);
    expect(verifySignature(x.signature, x.body, rot.body.secret, now)).toBe(true);
    expect(verifySignature(x.signature, x.body, old, now)).toBe(true);
  });

  it('refuses webhook URLs the local stack may not reach, and changes nothing', async () => {
    const before = (await consumer.api.get('/v1/jobs?limit=100')).body.items.length;
    for (const url of ['ftp://127.0.0.1/x', 'http://10.0.0.1/x', 'http://169.254.169.254/latest', 'not a url', 'http://user:pw@127.0.0.1/x', `https://${'a'.repeat(2100)}.com`]) {
      const r = await consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, webhook: { url } });
      expect(r.status, url).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
      expect(JSON.stringify(r.body.errors)).toMatch(/webhook/);
    }
    expect((await consumer.api.get('/v1/jobs?limit=100')).body.items.length).toBe(before);
  });

  it('a job without a webhook has no webhook in its answer and sends nothing', async () => {
    const n = received.length;
    const r = await consumer.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 } });
    const job = await eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${r.body.job.id}`)).body.job;
      return j.status === 'SUCCEEDED' ? j : undefined;
    });
    expect(job.webhook).toBeUndefined();
    expect(received.length).toBe(n);
  });
});
