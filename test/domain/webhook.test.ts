// The webhook domain, table-driven: signatures (and Stripe-style verification), the retry schedule, which
// job changes trigger a delivery, the address rules for webhook URLs, and the submission schema.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { endedWithWebhook, webhookEnvelope } from '../../functions/domain/webhook/payload';
import { DEFAULT_RETRY_DELAYS_SECONDS, isDelivered, maxAttempts, retryDelay, validateDelays } from '../../functions/domain/webhook/schedule';
import { parseSignatureHeader, signatureHeader, verifySignature } from '../../functions/domain/webhook/signing';
import { CLOUD_RULES, resolvedProblem, webhookTarget, type WebhookAddressRules } from '../../functions/domain/webhook/target';

const LOCAL: WebhookAddressRules = { allowAddresses: ['loopback'], httpAllowedFor: ['loopback'] };
const T = 1_800_000_000;

describe('signatures', () => {
  const body = JSON.stringify({ id: 'evt_1', job: { id: '1', status: 'SUCCEEDED' } });

  it('is HMAC-SHA256 over `${t}.${body}`, hex, in t=…,v1=…', () => {
    const h = signatureHeader(['whsec_a'], T, body);
    const expected = createHmac('sha256', 'whsec_a').update(`${T}.${body}`).digest('hex');
    expect(h).toBe(`t=${T},v1=${expected}`);
  });

  it('carries one v1 per secret during a rotation; either verifies', () => {
    const h = signatureHeader(['new', 'old'], T, body);
    expect(parseSignatureHeader(h)?.v1).toHaveLength(2);
    expect(verifySignature(h, body, 'new', T)).toBe(true);
    expect(verifySignature(h, body, 'old', T)).toBe(true);
    expect(verifySignature(h, body, 'other', T)).toBe(false);
  });

  it.each([
    ['another body', (h: string) => [h, body + ' ', T] as const],
    ['a timestamp too old', (h: string) => [h, body, T + 301] as const],
    ['a timestamp from the future', (h: string) => [h, body, T - 301] as const],
    ['a changed timestamp', (h: string) => [h.replace(`t=${T}`, `t=${T + 1}`), body, T] as const],
    ['no v1', (h: string) => [h.split(',')[0], body, T] as const],
    ['garbage', () => ['nonsense', body, T] as const],
    ['a short v1', () => [`t=${T},v1=abc`, body, T] as const],
  ])('refuses %s', (_n, make) => {
    const [h, b, now] = make(signatureHeader(['s'], T, body));
    expect(verifySignature(h, b, 's', now)).toBe(false);
  });

  it('accepts within the tolerance and ignores unknown schemes', () => {
    const h = `${signatureHeader(['s'], T, body)},v0=deadbeef`;
    expect(verifySignature(h, body, 's', T + 300)).toBe(true);
  });

  it('needs a secret', () => expect(() => signatureHeader([], T, body)).toThrow());
});

describe('retry schedule', () => {
  it.each([
    [1, 10],
    [2, 60],
    [3, 600],
    [4, undefined],
    [0, undefined],
  ])('after attempt %i waits %s s', (attempt, delay) => expect(retryDelay(attempt, DEFAULT_RETRY_DELAYS_SECONDS)).toBe(delay));

  it('makes four attempts in all, each delay within the SQS maximum', () => {
    expect(maxAttempts(DEFAULT_RETRY_DELAYS_SECONDS)).toBe(4);
    expect(() => validateDelays([901])).toThrow();
    expect(() => validateDelays([1.5])).toThrow();
    expect(validateDelays([0, 1, 900])).toEqual([0, 1, 900]);
  });

  it.each([
    [200, true],
    [204, true],
    [299, true],
    [301, false],
    [404, false],
    [500, false],
    [undefined, false],
  ])('status %s delivered: %s', (status, ok) => expect(isDelivered(status)).toBe(ok));
});

describe('which change triggers a delivery', () => {
  const hook = { url: 'https://example.com/h' };
  it.each([
    ['RUNNING → SUCCEEDED with a webhook', { status: 'RUNNING' }, { status: 'SUCCEEDED', webhook: hook }, true],
    ['QUEUED → CANCELLED', { status: 'QUEUED' }, { status: 'CANCELLED', webhook: hook }, true],
    ['RUNNING → TIMED_OUT', { status: 'RUNNING' }, { status: 'TIMED_OUT', webhook: hook }, true],
    ['ASSIGNED → FAILED', { status: 'ASSIGNED' }, { status: 'FAILED', webhook: hook }, true],
    ['no webhook', { status: 'RUNNING' }, { status: 'SUCCEEDED' }, false],
    ['not final', { status: 'QUEUED' }, { status: 'RUNNING', webhook: hook }, false],
    ['already final (a later write)', { status: 'SUCCEEDED' }, { status: 'SUCCEEDED', webhook: hook }, false],
    ['deleted', { status: 'SUCCEEDED' }, undefined, false],
  ] as const)('%s → %s', (_n, before, after, yes) => expect(endedWithWebhook(before, after as never)).toBe(yes));

  it('the envelope names the event by job, stable across attempts', () => {
    expect(webhookEnvelope('j1', { id: 'j1' }, 3, 5)).toEqual({ id: 'evt_j1', type: 'job.finished', attempt: 3, sentAt: 5, job: { id: 'j1' } });
  });
});

describe('webhook URLs', () => {
  it.each([
    ['https://hooks.example.com/x?y=1', CLOUD_RULES],
    ['https://93.184.216.34/x', CLOUD_RULES],
    ['https://[2606:2800:220:1::1]/x', CLOUD_RULES],
    ['http://127.0.0.1:9000/x', LOCAL],
    ['http://localhost:9000/x', LOCAL],
    ['https://127.0.0.1/x', LOCAL],
    ['https://hooks.example.com/x', LOCAL],
  ] as const)('accepts %s', (url, rules) => expect(webhookTarget(url, rules)).not.toHaveProperty('problem'));

  it.each([
    ['http://hooks.example.com/x', CLOUD_RULES, 'https'],
    ['http://93.184.216.34/x', CLOUD_RULES, 'https'],
    ['https://127.0.0.1/x', CLOUD_RULES, 'loopback'],
    ['https://10.1.2.3/x', CLOUD_RULES, 'private'],
    ['https://169.254.169.254/latest/meta-data', CLOUD_RULES, 'linkLocal'],
    ['https://[::ffff:127.0.0.1]/x', CLOUD_RULES, 'loopback'],
    ['https://0x7f.1/x', CLOUD_RULES, 'loopback'],
    ['https://2130706433/x', CLOUD_RULES, 'loopback'],
    ['https://[fd00::1]/x', CLOUD_RULES, 'private'],
    ['https://0.0.0.0/x', CLOUD_RULES, 'unspecified'],
    ['https://user:pw@example.com/x', CLOUD_RULES, 'credentials'],
    ['ftp://example.com/x', CLOUD_RULES, 'https'],
    ['http://10.0.0.1/x', LOCAL, 'private'],
    ['http://93.184.216.34/x', LOCAL, 'https'],
    ['not a url', CLOUD_RULES, 'not a URL'],
  ] as const)('refuses %s', (url, rules, why) => expect((webhookTarget(url, rules) as { problem: string }).problem).toContain(why));

  it.each([
    [[{ address: '93.184.216.34' }], CLOUD_RULES, undefined],
    [[{ address: '93.184.216.34' }, { address: '10.0.0.1' }], CLOUD_RULES, 'private'],
    [[{ address: '169.254.169.254' }], CLOUD_RULES, 'linkLocal'],
    [[{ address: '::1' }], CLOUD_RULES, 'loopback'],
    [[], CLOUD_RULES, 'no address'],
    [[{ address: '127.0.0.1' }], LOCAL, undefined],
  ] as const)('a name resolving to %j is judged by every address', (answers, rules, why) => {
    const target = webhookTarget('https://hooks.example.com/x', rules) as Exclude<ReturnType<typeof webhookTarget>, { problem: string }>;
    const r = resolvedProblem(target, answers, rules);
    if (why) expect((r as { problem: string }).problem).toContain(why);
    else expect(r).toHaveProperty('address');
  });

  it('http to a name resolving to a public address is refused locally (http is for loopback only)', () => {
    const target = webhookTarget('http://localhost/x', LOCAL) as Exclude<ReturnType<typeof webhookTarget>, { problem: string }>;
    expect((resolvedProblem(target, [{ address: '93.184.216.34' }], LOCAL) as { problem: string }).problem).toContain('http');
  });
});

describe('submission schema', () => {
  const ok = { command: ['true'], resources: { gpus: 1 } };
  it('takes webhook: {url}', () => expect(SubmitJobSchema.parse({ ...ok, webhook: { url: 'https://x.example/h' } }).webhook).toEqual({ url: 'https://x.example/h' }));
  it.each([
    ['an unknown field', { url: 'https://x.example/h', secret: 'x' }],
    ['no url', {}],
    ['a non-URL', { url: 'hello' }],
    ['another scheme', { url: 'file:///etc/passwd' }],
    ['a URL over 2048 characters', { url: `https://x.example/${'a'.repeat(2048)}` }],
  ])('refuses %s', (_n, webhook) => expect(SubmitJobSchema.safeParse({ ...ok, webhook }).success).toBe(false));
});
