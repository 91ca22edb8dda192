// The local gateway's usage plan: a token bucket per account (rate, burst) and a daily quota; beyond
// them a 429 problem document with Retry-After, as API Gateway throttles a usage-plan key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter, UsagePlanMeter } from '../../lib/local/rate-limit';
import { cdkJsonContext } from '../../bin/cdk-json';
import { DEFAULTS, resolveStageConfig } from '../../lib/config';
import { client, eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem } from './helpers';

describe('RateLimiter', () => {
  it('allows a burst, then the steady rate, and says when to retry', () => {
    let now = Date.UTC(2030, 0, 1, 12);
    const l = new RateLimiter({ rateLimit: 2, burstLimit: 4, quotaPerDay: 1_000 }, () => now);
    for (let i = 0; i < 4; i++) expect(l.take('a')).toEqual({ ok: true });
    expect(l.take('a')).toEqual({ ok: false, reason: 'rate', retryAfterSeconds: 1 });
    expect(l.take('b')).toEqual({ ok: true }); // per caller
    now += 500; // one token back at 2/s
    expect(l.take('a')).toEqual({ ok: true });
    expect(l.take('a').ok).toBe(false);
    now += 10_000; // refills to the burst, not beyond
    for (let i = 0; i < 4; i++) expect(l.take('a').ok).toBe(true);
    expect(l.take('a').ok).toBe(false);
  });

  it('enforces the daily quota until the next UTC day', () => {
    let now = Date.UTC(2030, 0, 1, 23, 59, 0);
    const l = new RateLimiter({ rateLimit: 100, burstLimit: 100, quotaPerDay: 3 }, () => now);
    for (let i = 0; i < 3; i++) expect(l.take('a').ok).toBe(true);
    expect(l.take('a')).toEqual({ ok: false, reason: 'quota', retryAfterSeconds: 60 });
    now = Date.UTC(2030, 0, 2, 0, 0, 1);
    expect(l.take('a').ok).toBe(true);
  });

  it('refuses nonsense limits, and reads the same tier as cdk.json for npm start', () => {
    expect(() => new RateLimiter({ rateLimit: 0, burstLimit: 1, quotaPerDay: 1 })).toThrow();
    expect(resolveStageConfig(cdkJsonContext()).usagePlan).toEqual(DEFAULTS.usagePlan);
  });
});

describe('UsagePlanMeter', () => {
  const now = Date.UTC(2030, 0, 1, 12);
  const meter = () => new UsagePlanMeter({ account: { rateLimit: 1, burstLimit: 2, quotaPerDay: 1_000 }, agent: { rateLimit: 1, burstLimit: 3 } }, () => now);
  const consumer = { accountId: 'p', role: 'consumer', keyId: 'c' } as const;
  const nodeOf = (nodeId: string) => ({ accountId: 'p', role: 'node', keyId: `k${nodeId}`, nodeId }) as const;

  it('meters node keys per node in the agent tier, apart from their own account', () => {
    const m = meter();
    expect([m.take(consumer), m.take(consumer), m.take(consumer)].map((v) => v.ok)).toEqual([true, true, false]);
    expect(m.take(consumer)).toMatchObject({ ok: false, tier: 'account' });
    // the account is spent; its node is not, and each node has its own allowance
    expect([1, 2, 3, 4].map(() => m.take(nodeOf('a')).ok)).toEqual([true, true, true, false]);
    expect(m.take(nodeOf('a'))).toMatchObject({ ok: false, reason: 'rate', tier: 'agent' });
    expect(m.take(nodeOf('b'))).toMatchObject({ ok: true, tier: 'agent' });
  });
  it('leaves a tier without limits unmetered', () => {
    const m = new UsagePlanMeter({ account: { rateLimit: 1, burstLimit: 1, quotaPerDay: 1 } }, () => now);
    for (let i = 0; i < 100; i++) expect(m.take(nodeOf('a')).ok).toBe(true);
  });
  it('has no daily quota in the agent tier', () => {
    let t = now;
    const l = new RateLimiter({ rateLimit: 1_000, burstLimit: 1_000 }, () => t);
    for (let i = 0; i < 5_000; i++, t += 1) expect(l.take('n').ok).toBe(true);
  });
  it('reads the agent tier from cdk.json as cdk deploy does', () => {
    expect(resolveStageConfig(cdkJsonContext()).agentUsagePlan).toEqual(DEFAULTS.agentUsagePlan);
  });
});

describe('the local gateway with a tiny usage plan', () => {
  let pool: Pool;
  beforeAll(async () => {
    // one token every 2 s: the four quick requests below cannot be rescued by a refill, even on a slow machine
    pool = await startPool({ rateLimit: { rateLimit: 0.5, burstLimit: 3, quotaPerDay: 1_000 } });
  });
  afterAll(async () => {
    await pool?.stop();
  });

  it('answers 429 with Retry-After when an account exceeds its rate; other accounts go on', async () => {
    // unfunded: minting would spend the admin's own tiny bucket
    const [a, b] = [await pool.newAccount('consumer', 'greedy', false), await pool.newAccount('consumer', 'modest', false)];
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await a.api.get('/v1/jobs'));
    expect(answers.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    const throttled = answers[3];
    expectProblem(throttled, 429);
    expect(throttled.body.type).toBe('https://gpupool.dev/problems/throttled');
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // a second key of the same account shares the account's bucket
    const second = client(pool.stack.apiUrl, (await pool.stack.deps.keys.issue({ accountId: a.id, role: 'consumer', now: Date.now() })).apiKey);
    expectProblem(await second.get('/v1/balance'), 429);
    // another account is not affected; public routes and unknown keys are not metered
    expect((await b.api.get('/v1/jobs')).status).toBe(200);
    expect((await client(pool.stack.apiUrl).get('/v1/health')).status).toBe(200);
    expectProblem(await client(pool.stack.apiUrl, 'gp_0000000000_' + 'x'.repeat(22)).get('/v1/jobs'), 401);
    // the bucket refills at the steady rate
    await eventually(async () => ((await a.api.get('/v1/jobs')).status === 200 ? true : undefined), 5_000, 'a token back');
  });
});
