// Issue 14.9: agent traffic is metered per node, in its own tier, never by another caller's traffic. On AWS
// a consumer used to share a usage key with whatever providers hashed into its bucket; the local gateway
// meters per account, so the same sharing shows here as a consumer key of the node's own account. Its burst
// throttled the node's heartbeats until the reaper would have written the node off. The AWS side (the
// authorizer's choice of usage key) is proven in test/api/authorizer-usage-key.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, registerNode, type Api } from './helpers';

const heartbeat = (node: Api) => node.post('/v1/agent/heartbeat', { running: [] });

describe('the local gateway meters agents per node, apart from every account', () => {
  let pool: Pool;
  beforeAll(async () => {
    // tiers small enough to exhaust in a handful of requests; one token per 20 s, so no refill rescues a
    // throttled caller during the test, even on a slow machine
    pool = await startPool({
      rateLimit: { rateLimit: 0.05, burstLimit: 8, quotaPerDay: 10_000 },
      agentRateLimit: { rateLimit: 0.05, burstLimit: 6 },
    });
  });
  afterAll(async () => {
    await pool?.stop();
  });

  /** A provider account with one node of its own, registered and in session. */
  async function providerWithNode(name: string) {
    const provider = await pool.newAccount('provider', name);
    const node = await registerNode(provider.api, `${name}-n1`, 'T4');
    const api = client(pool.stack.apiUrl, node.key);
    expect((await api.post('/v1/agent/session', { bootId: `${name}-boot` })).status).toBe(200);
    return { provider, node: { ...node, api } };
  }

  it("a consumer's burst far past its limit never throttles a node's heartbeats", async () => {
    const { provider, node } = await providerWithNode('noisy-neighbour');
    // the account also consumes (a party may do both); its consumer key shares nothing with the node key
    const consumer = client(pool.stack.apiUrl, (await pool.stack.deps.keys.issue({ accountId: provider.id, role: 'consumer', now: Date.now() })).apiKey);
    const burst = await Promise.all(Array.from({ length: 30 }, () => consumer.get('/v1/jobs')));
    const throttled = burst.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(20);
    expectProblem(throttled[0], 429);
    // the consumer stays throttled while the node beats: every heartbeat is answered
    const beats = [];
    for (let i = 0; i < 4; i++) {
      beats.push((await heartbeat(node.api)).status);
      expect((await consumer.get('/v1/balance')).status).toBe(429);
    }
    expect(beats).toEqual([200, 200, 200, 200]);
  });

  it('a node that floods with its key throttles only itself', async () => {
    const { provider, node: hostile } = await providerWithNode('flooder');
    const sibling = await registerNode(provider.api, 'flooder-n2', 'T4');
    const siblingApi = client(pool.stack.apiUrl, sibling.key);
    expect((await siblingApi.post('/v1/agent/session', { bootId: 'flooder-n2-boot' })).status).toBe(200);
    const { node: stranger } = await providerWithNode('stranger');

    const flood = await Promise.all(Array.from({ length: 30 }, () => heartbeat(hostile.api)));
    expect(flood.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(20);
    expectProblem(flood.find((r) => r.status === 429)!, 429);
    // any route, with that key: the node's own allowance is what is spent
    expectProblem(await hostile.api.post(`/v1/agent/jobs/${'0'.repeat(26)}/logs`, { lines: [] }), 429);

    // the provider's other node, another provider's node and the provider's own key are untouched
    for (let i = 0; i < 3; i++) {
      expect((await heartbeat(siblingApi)).status).toBe(200);
      expect((await heartbeat(stranger.api)).status).toBe(200);
    }
    expect((await provider.api.get('/v1/nodes')).status).toBe(200);
  });
});
