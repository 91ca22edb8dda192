// Webhook deliveries on real engines (DynamoDB Local, the local SQS server, a real HTTP receiver on a free
// port): a stream record or a retry message replayed many times at once sends each attempt exactly once;
// a lost retry send is healed by a repeat; a dead sender's claim is taken over after its lease; the
// sender's SSRF guard judges resolved addresses and connects to the one it checked.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../functions/domain/model';
import { verifySignature } from '../../functions/domain/webhook/signing';
import { CLOUD_RULES } from '../../functions/domain/webhook/target';
import { handleWebhookEvent } from '../../functions/scheduled/webhooks';
import { makeDocClient } from '../../functions/store/clients';
import { WebhookRetryQueue } from '../../functions/store/webhook-retries';
import { httpWebhookSender, type Resolver } from '../../functions/store/webhook-sender';
import { buildDeps, newId, settingsFromEnv, type Deps } from '../../functions/usecases/deps';
import { DEFAULT_WEBHOOKS } from '../../functions/usecases/webhook-settings';
import type { WebhookPorts } from '../../functions/usecases/webhooks';
import { startEngines, type Engines } from '../helpers/engines';

const LOCAL = { allowAddresses: ['loopback' as const], httpAllowedFor: ['loopback' as const] };
let engines: Engines;
let d: Deps;
let queueUrl: string;
let receiver: Server;
let base: string;
let port: number;
let hits: { path: string; attempt: string; host: string; body: string; signature: string }[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => s.writeHead(200).end();

beforeAll(async () => {
  engines = await startEngines();
  queueUrl = (await engines.sqs.send(new CreateQueueCommand({ QueueName: `wh-${newId()}` }))).QueueUrl!;
  const settings = settingsFromEnv({});
  d = buildDeps({ db: makeDocClient(engines.ddb), sqs: engines.sqs, tables: engines.tableNames, settings: { ...settings, webhooks: { ...DEFAULT_WEBHOOKS, ...LOCAL, retryQueueUrl: queueUrl } } });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', attempt: String(req.headers['gpupool-attempt']), host: String(req.headers.host), body: Buffer.concat(chunks).toString(), signature: String(req.headers['gpupool-signature']) });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
}, 60_000);

afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  await engines?.stop();
});

beforeEach(() => {
  hits = [];
  answer = (_q, s) => s.writeHead(200).end();
});

const ports = (over: Partial<WebhookPorts> = {}): WebhookPorts => ({
  jobs: d.jobs,
  webhooks: d.webhooks,
  retries: new WebhookRetryQueue(engines.sqs, queueUrl),
  send: httpWebhookSender({ rules: LOCAL, timeoutMs: 2000 }),
  settings: { ...d.settings.webhooks, retryDelaysSeconds: [0, 0, 0] },
  now: Date.now,
  ...over,
});

async function endedJob(url: string): Promise<Job> {
  const now = Date.now();
  const job: Job = {
    id: newId(),
    accountId: `acct-${newId()}`,
    status: 'SUCCEEDED',
    command: ['true'],
    env: {},
    resources: { gpus: 1, nodes: 1 },
    maxDurationSeconds: 60,
    maxAttempts: 1,
    priority: 0,
    queueTtlSeconds: 60,
    webhook: { url },
    attempts: [],
    createdAt: now,
    queuedAt: now,
    finishedAt: now,
    exitCode: 0,
    version: 3,
  };
  await d.jobs.create(job);
  return job;
}

const streamRecord = (job: Job, seq = '1'): DynamoDBRecord => ({
  eventName: 'MODIFY',
  eventSource: 'aws:dynamodb',
  dynamodb: {
    SequenceNumber: seq,
    OldImage: { id: { S: job.id }, status: { S: 'RUNNING' }, env: {} as never },
    NewImage: { id: { S: job.id }, status: { S: job.status }, webhook: { M: { url: { S: job.webhook!.url } } } },
  },
});
const message = (body: unknown, id = newId()): SQSRecord => ({ messageId: id, body: JSON.stringify(body), eventSource: 'aws:sqs' }) as SQSRecord;

/** The retry messages queued for `jobId` (the queue is shared by the tests; received ones stay hidden). */
async function receiveRetries(jobId: string): Promise<{ jobId: string; attempt: number }[]> {
  const out: { jobId: string; attempt: number }[] = [];
  for (;;) {
    const r = await engines.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, VisibilityTimeout: 600 }));
    if (!r.Messages?.length) return out.filter((m) => m.jobId === jobId);
    out.push(JSON.parse(r.Messages[0].Body!));
  }
}

describe('exactly one POST per attempt', () => {
  it('a stream record replayed 20 times at once (in one batch and in parallel batches) sends attempt 1 once', async () => {
    const job = await endedJob(`${base}/once`);
    const rec = streamRecord(job);
    const p = ports();
    const results = await Promise.all([
      handleWebhookEvent(p, { Records: Array(10).fill(rec) }),
      ...Array.from({ length: 10 }, () => handleWebhookEvent(p, { Records: [rec] })),
    ]);
    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
    expect(hits.map((h) => h.attempt)).toEqual(['1']);
    const deliveries = await d.webhooks.list(job.id);
    expect(deliveries).toEqual([expect.objectContaining({ attempt: 1, state: 'DELIVERED', statusCode: 200 })]);
    const secret = await d.webhooks.secret(job.accountId, Date.now());
    expect(verifySignature(hits[0].signature, hits[0].body, secret.current, Math.floor(Date.now() / 1000))).toBe(true);
  });

  it('a retry message delivered 20 times at once sends attempt 2 once, and queues attempt 3 once', async () => {
    answer = (_q, s) => s.writeHead(500).end();
    const job = await endedJob(`${base}/retry`);
    await handleWebhookEvent(ports(), { Records: [streamRecord(job)] });
    expect(await receiveRetries(job.id)).toEqual([{ jobId: job.id, attempt: 2 }]);
    const msg = message({ jobId: job.id, attempt: 2 });
    const p = ports();
    await Promise.all(Array.from({ length: 20 }, () => handleWebhookEvent(p, { Records: [msg] })));
    expect(hits.map((h) => h.attempt)).toEqual(['1', '2']);
    // the duplicates found attempt 3 not yet claimed and queued it again: harmless, its claim decides
    const queued = await receiveRetries(job.id);
    expect(new Set(queued.map((m) => JSON.stringify(m)))).toEqual(new Set([JSON.stringify({ jobId: job.id, attempt: 3 })]));
    await Promise.all(queued.map((m) => handleWebhookEvent(p, { Records: [message(m)] })));
    expect(hits.map((h) => h.attempt)).toEqual(['1', '2', '3']);
    const states = (await d.webhooks.list(job.id)).map((a) => [a.attempt, a.state, a.statusCode, a.nextRetryAt !== undefined]);
    expect(states).toEqual([
      [1, 'FAILED', 500, true],
      [2, 'FAILED', 500, true],
      [3, 'FAILED', 500, true],
    ]);
  });

  it('gives up after the last delay: the final attempt records no next retry', async () => {
    answer = (_q, s) => s.writeHead(503).end();
    const job = await endedJob(`${base}/giveup`);
    const p = ports({ settings: { ...d.settings.webhooks, retryDelaysSeconds: [0] } });
    await handleWebhookEvent(p, { Records: [streamRecord(job)] });
    const queued = await receiveRetries(job.id);
    expect(queued).toEqual([{ jobId: job.id, attempt: 2 }]);
    await handleWebhookEvent(p, { Records: [message(queued[0])] });
    expect(await receiveRetries(job.id)).toEqual([]);
    const last = (await d.webhooks.list(job.id)).at(-1)!;
    expect(last).toMatchObject({ attempt: 2, state: 'FAILED', statusCode: 503 });
    expect(last.nextRetryAt).toBeUndefined();
  });

  it('a retry whose queue send was lost is queued again when the trigger repeats', async () => {
    answer = (_q, s) => s.writeHead(500).end();
    const job = await endedJob(`${base}/lost`);
    const broken = ports({ retries: { schedule: () => Promise.reject(new Error('SQS down')) } });
    const first = await handleWebhookEvent(broken, { Records: [streamRecord(job)] });
    // the record fails (so Lambda retries it); the attempt itself was sent and recorded
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: '1' }]);
    expect(await receiveRetries(job.id)).toEqual([]);
    await handleWebhookEvent(ports(), { Records: [streamRecord(job)] });
    expect(hits.map((h) => h.attempt)).toEqual(['1']);
    expect(await receiveRetries(job.id)).toEqual([{ jobId: job.id, attempt: 2 }]);
  });

  it('a claim left SENDING by a dead sender is taken over after the lease, not before', async () => {
    const job = await endedJob(`${base}/lease`);
    const claimAt = Date.now();
    expect(await d.webhooks.claim(job.id, 1, claimAt, 60_000)).toBe(true);
    await handleWebhookEvent(ports(), { Records: [streamRecord(job)] });
    expect(hits).toEqual([]);
    await handleWebhookEvent(ports({ now: () => claimAt + 61_000 }), { Records: [streamRecord(job)] });
    expect(hits.map((h) => h.attempt)).toEqual(['1']);
    // the dead sender, had it woken, could not overwrite the new claim's result
    expect(await d.webhooks.record({ jobId: job.id, attempt: 1, state: 'FAILED', at: claimAt }, claimAt)).toBe(false);
  });

  it('skips jobs that are not final or have no webhook, and unreadable messages', async () => {
    const job = await endedJob(`${base}/skip`);
    await d.jobs.create({ ...job, id: newId(), status: 'RUNNING' });
    const r = await handleWebhookEvent(ports(), {
      Records: [message({ jobId: 'nope', attempt: 2 }), message('garbage'), { ...streamRecord(job), dynamodb: { SequenceNumber: '9', NewImage: { id: { S: job.id } } } }],
    });
    expect(r.batchItemFailures).toEqual([]);
    expect(hits).toEqual([]);
  });
});

describe('the account secret', () => {
  it('is created once under concurrent first use; rotation keeps the previous one for the grace', async () => {
    const account = `acct-${newId()}`;
    const now = Date.now();
    const all = await Promise.all(Array.from({ length: 10 }, () => d.webhooks.secret(account, now)));
    expect(new Set(all.map((s) => s.current)).size).toBe(1);
    const rotated = await d.webhooks.rotate(account, now + 1, 1000);
    expect(rotated).toMatchObject({ previous: all[0].current, previousExpiresAt: now + 1001 });
    expect((await d.webhooks.secret(account, now)).current).toBe(rotated.current);
  });
});

describe('the sender', () => {
  const post = (url: string, o: { rules?: typeof LOCAL | typeof CLOUD_RULES; resolve?: Resolver; timeoutMs?: number } = {}) =>
    httpWebhookSender({ rules: o.rules ?? LOCAL, timeoutMs: o.timeoutMs ?? 2000, resolve: o.resolve })(url, '{}', {});

  it('connects to the checked address with the URL host in the Host header', async () => {
    const resolve: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    expect(await post(`http://hooks.test:${port}/named`, { resolve })).toEqual({ statusCode: 200 });
    expect(hits[0]).toMatchObject({ path: '/named', host: `hooks.test:${port}` });
  });

  it.each([
    ['a name resolving to a private address', 'https://hooks.test/x', [{ address: '10.0.0.7', family: 4 }], 'private'],
    ['a name with one public and one metadata address', 'https://hooks.test/x', [{ address: '93.184.216.34', family: 4 }, { address: '169.254.169.254', family: 4 }], 'linkLocal'],
    ['a name resolving to IPv6 loopback', 'https://hooks.test/x', [{ address: '::1', family: 6 }], 'loopback'],
  ])('in cloud mode refuses %s, before any connection', async (_n, url, answers, why) => {
    const r = await post(url, { rules: CLOUD_RULES, resolve: async () => answers });
    expect((r as { error: string }).error).toContain(why);
  });

  it('in cloud mode refuses plain http and loopback literals', async () => {
    expect(await post('http://93.184.216.34/x', { rules: CLOUD_RULES })).toEqual({ error: 'webhook URL must be https' });
    expect(await post(`${base}/x`, { rules: CLOUD_RULES })).toEqual({ error: 'loopback address refused' });
    expect(hits).toEqual([]);
  });

  it('does not follow redirects and reports the status', async () => {
    answer = (_q, s) => s.writeHead(302, { location: 'http://169.254.169.254/' }).end();
    expect(await post(`${base}/redirect`)).toEqual({ statusCode: 302 });
    expect(hits).toHaveLength(1);
  });

  it('gives up after its timeout', async () => {
    answer = () => undefined; // never answers
    const t0 = Date.now();
    expect(await post(`${base}/slow`, { timeoutMs: 300 })).toEqual({ error: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('reports a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const p = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await post(`http://127.0.0.1:${p}/x`)).toEqual({ error: 'unreachable (ECONNREFUSED)' });
  });
});

