// Issue 14.9 on AWS: the authorizer's usageIdentifierKey puts node keys in the agent tier, by node id, and
// every other key in the account tier, by account id. A consumer and a node can then never share a usage
// key, even when the consumer's account hashes into the same bucket number as the node's provider.
import type { APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Caller } from '../../functions/domain/model';
import { usageBucketOf } from '../../functions/domain/usage-bucket';
import { authorizerHandler, usageIdentifierKeyFor } from '../../functions/http/authorizer';
import type { Deps } from '../../functions/usecases/deps';

const BASE = 'gpupool-usage-stack1';
const ENV = { USAGE_IDENTIFIER_KEY: BASE, USAGE_KEY_BUCKETS: '16', USAGE_AGENT_KEY_BUCKETS: '64' };

const node = (nodeId: string, accountId = 'prov-1'): Caller => ({ accountId, role: 'node', keyId: `k-${nodeId}`, nodeId });
const person = (role: Caller['role'], accountId: string): Caller => ({ accountId, role, keyId: `k-${accountId}-${role}` });

describe('the usage key the authorizer returns', () => {
  it('meters a node key in the agent tier by its node id, never by its provider account', () => {
    const key = usageIdentifierKeyFor(node('01node-a'), ENV);
    expect(key).toBe(`${BASE}-agent-${usageBucketOf('01node-a', 64)}`);
    // two nodes of one provider are metered by their own ids: whichever buckets those hash into
    const ids = Array.from({ length: 64 }, (_, i) => `01node-${i}`);
    const keys = new Set(ids.map((id) => usageIdentifierKeyFor(node(id), ENV)));
    expect(keys.size).toBeGreaterThan(30);
    for (const k of keys) expect(k).toMatch(new RegExp(`^${BASE}-agent-\\d+$`));
  });

  it('meters consumer, provider and admin keys in the account tier by account id', () => {
    for (const role of ['consumer', 'provider', 'admin'] as const) {
      expect(usageIdentifierKeyFor(person(role, 'acct-7'), ENV)).toBe(`${BASE}-${usageBucketOf('acct-7', 16)}`);
    }
  });

  it('never gives a consumer the key of a node, whatever the hashes', () => {
    const agentKeys = new Set(Array.from({ length: 500 }, (_, i) => usageIdentifierKeyFor(node(`n${i}`, `acct-${i}`), ENV)));
    for (let i = 0; i < 500; i++) {
      // the node's provider account and a consumer account: the same account id, even
      expect(agentKeys.has(usageIdentifierKeyFor(person('consumer', `acct-${i}`), ENV)!)).toBe(false);
      expect(agentKeys.has(usageIdentifierKeyFor(person('provider', `acct-${i}`), ENV)!)).toBe(false);
    }
  });

  it('returns no usage key where the stack configured none (the local gateway meters itself)', () => {
    expect(usageIdentifierKeyFor(node('n1'), {})).toBeUndefined();
  });
});

describe('the authorizer handler', () => {
  const saved = { ...process.env };
  const callers: Record<string, Caller> = { 'gp_node': node('01node-z', 'acct-z'), 'gp_cons': person('consumer', 'acct-z') };
  beforeEach(() => {
    Object.assign(process.env, ENV);
  });
  // the authorizer function's code with a root whose key store knows two keys
  const handler = authorizerHandler(() => ({ keys: { resolve: async (raw: string) => callers[raw] } }) as unknown as Deps);
  afterEach(() => {
    for (const k of Object.keys(ENV)) {
      if (k in saved) process.env[k] = saved[k];
      else delete process.env[k];
    }
  });
  const event = (token: string): APIGatewayTokenAuthorizerEvent => ({
    type: 'TOKEN',
    authorizationToken: token,
    methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/POST/v1/agent/heartbeat',
  });

  it('answers a node key with an agent-tier usage key from its node id, and a consumer of the same account with an account-tier key', async () => {
    const n = await handler(event('gp_node'));
    expect(n.usageIdentifierKey).toBe(`${BASE}-agent-${usageBucketOf('01node-z', 64)}`);
    expect(n.context).toMatchObject({ role: 'node', nodeId: '01node-z', accountId: 'acct-z' });
    const c = await handler(event('gp_cons'));
    expect(c.usageIdentifierKey).toBe(`${BASE}-${usageBucketOf('acct-z', 16)}`);
    expect(c.usageIdentifierKey).not.toBe(n.usageIdentifierKey);
  });

  it('refuses an unknown key', async () => {
    await expect(handler(event('gp_nobody'))).rejects.toThrow('Unauthorized');
  });
});
