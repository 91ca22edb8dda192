// Each node its provider registers gets a usage key of its own (issue 14, item 9: agent traffic limited
// per node, never by another account's). On the local stack with a recording port in place of API Gateway
// (its adapter has its own test): registration makes the key, then marks the node key, so the authorizer
// names that key; a failure leaves the node on a shared key and its registration intact; a registration
// token (burst) keeps the shared keys; deregistration removes the key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentUsageKeysPort } from '../../functions/domain/agent-usage-keys-port';
import { authorize, usageIdentifierKeyFor } from '../../functions/http/authorizer';
import { nodeUsageKeyValue } from '../../functions/domain/usage-bucket';
import { client } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { nodeBody } from './helpers';

const BASE = 'base-0123456789abcdef';
const ENV = { USAGE_IDENTIFIER_KEY: BASE, USAGE_KEY_BUCKETS: '16', USAGE_AGENT_KEY_BUCKETS: '64' };

class RecordingKeys implements AgentUsageKeysPort {
  readonly made = new Set<string>();
  readonly removed: string[] = [];
  fail = false;
  async ensure(nodeId: string) {
    if (this.fail) throw new Error('LimitExceededException: no more API keys in this region');
    this.made.add(nodeId);
  }
  async remove(nodeId: string) {
    this.removed.push(nodeId);
    this.made.delete(nodeId);
  }
}

let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
const port = new RecordingKeys();
const usageKey = async (nodeKey: string) => usageIdentifierKeyFor((await authorize(pool.stack.deps, nodeKey))!, ENV);

describe("nodes' own usage keys", () => {
  beforeAll(async () => {
    pool = await startPool();
    pool.stack.deps.agentUsageKeys = port;
    provider = await pool.newAccount('provider');
  }, 60_000);

  afterAll(async () => {
    await pool?.stop();
  });

  it("registration makes the node's key and the authorizer names it for the node key; deregistration removes it", async () => {
    const r = await provider.api.post('/v1/nodes', nodeBody('own', 'L4'));
    expect(r.status).toBe(201);
    const id = r.body.node.id as string;
    expect(port.made.has(id)).toBe(true);
    expect(await usageKey(r.body.nodeKey)).toBe(nodeUsageKeyValue(BASE, id));
    // the provider's own key stays in the account tier
    expect(await usageKey(provider.key)).toMatch(new RegExp(`^${BASE}-\\d+$`));
    expect((await provider.api.del(`/v1/nodes/${id}`)).status).toBe(200);
    expect(port.removed).toContain(id);
  });

  it('when the key cannot be made, the node registers all the same and is metered by a shared agent key (never one API Gateway does not know)', async () => {
    port.fail = true;
    try {
      const r = await provider.api.post('/v1/nodes', nodeBody('shared', 'L4'));
      expect(r.status).toBe(201);
      expect(port.made.has(r.body.node.id)).toBe(false);
      expect(await usageKey(r.body.nodeKey)).toMatch(new RegExp(`^${BASE}-agent-\\d+$`));
    } finally {
      port.fail = false;
    }
  });

  it('a node registered with a one-time registration token (burst: the operator\'s own) keeps the shared keys', async () => {
    const { apiKey } = await pool.stack.deps.keys.issueRegistrationToken({ accountId: provider.id, now: Date.now(), ttlMs: 60_000 });
    const r = await client(pool.stack.apiUrl, apiKey).post('/v1/nodes', nodeBody('burst', 'L4'));
    expect(r.status).toBe(201);
    expect(port.made.has(r.body.node.id)).toBe(false);
    expect(await usageKey(r.body.nodeKey)).toMatch(new RegExp(`^${BASE}-agent-\\d+$`));
  });
});
