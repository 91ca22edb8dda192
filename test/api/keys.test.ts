// Credentials end to end on the local stack: API key rotation and revocation (the gateway's cache TTL
// bounds how long a revoked key keeps working), key listings without secrets, lastUsedAt written at
// most once a minute, who a key speaks for (GET /v1/balance), and agent sessions with STS credentials.
import { parseApiKey } from '../../functions/domain/api-key';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize } from '../../functions/http/authorizer';
import { client, eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, registerNode } from './helpers';

const CACHE_TTL_MS = 400;
const AGENT_ROLE = 'arn:aws:iam::123456789012:role/gpupool-agent';
const sts = mockClient(STSClient);
let pool: Pool;

beforeAll(async () => {
  sts.on(AssumeRoleCommand).resolves({
    Credentials: { AccessKeyId: 'ASIALOCAL', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) },
  });
  pool = await startPool({ cacheTtlMs: CACHE_TTL_MS, settings: { agentRoleArn: AGENT_ROLE } });
});
afterAll(async () => {
  await pool?.stop();
  sts.restore();
});

describe('API keys', () => {
  it('rotate without downtime: a second key works beside the first; revoking the first stops it within the cache TTL', async () => {
    const c = await pool.newAccount('consumer', 'rotator');
    const first = c.api;
    const issued = await first.post(`/v1/accounts/${c.id}/keys`);
    expect(issued.status).toBe(201);
    expect(issued.body.apiKey).toMatch(/^gp_[a-z0-9]{10,32}_[A-Za-z0-9_-]{22,64}$/);
    const second = client(pool.stack.apiUrl, issued.body.apiKey);
    // both work, and speak for the same account
    for (const api of [first, second]) expect((await api.get('/v1/balance')).body).toMatchObject({ accountId: c.id, role: 'consumer' });

    const firstKeyId = c.key.split('_')[1];
    const revoked = await second.del(`/v1/keys/${firstKeyId}`);
    expect(revoked.status).toBe(204);
    const t0 = Date.now();
    const status = await eventually(async () => {
      const r = await first.get('/v1/balance');
      return r.status === 200 ? undefined : r;
    }, CACHE_TTL_MS + 5_000, 'the revoked key to stop working');
    expectProblem(status, 401);
    expect(Date.now() - t0).toBeLessThanOrEqual(CACHE_TTL_MS + 1_000);
    // the second key is unaffected; the revoked one stays revoked, also for key management
    expect((await second.get('/v1/balance')).status).toBe(200);
    expectProblem(await first.post(`/v1/accounts/${c.id}/keys`), 401);
    // revoking again is harmless
    expect((await second.del(`/v1/keys/${firstKeyId}`)).status).toBe(204);

    const list = await second.get(`/v1/accounts/${c.id}/keys`);
    expect(list.status).toBe(200);
    expect(list.body.nextCursor).toBeNull();
    const byId = Object.fromEntries(list.body.items.map((k: { keyId: string }) => [k.keyId, k]));
    expect(Object.keys(byId).sort()).toEqual([firstKeyId, issued.body.keyId].sort());
    expect(byId[firstKeyId].revokedAt).toBeGreaterThanOrEqual(t0 - 1000);
    expect(byId[issued.body.keyId].revokedAt).toBeNull();
    for (const k of list.body.items) {
      expect(Object.keys(k).sort()).toEqual(['createdAt', 'keyId', 'lastUsedAt', 'nodeId', 'revokedAt', 'role']);
      expect(k.lastUsedAt).toEqual(expect.any(Number)); // both were used
    }
    // never a secret, never a hash: neither key's secret part appears anywhere in the listing
    const text = JSON.stringify(list.body);
    // the secret itself may contain '_' (base64url): take everything after gp_<keyId>_
    for (const key of [c.key, issued.body.apiKey]) expect(text).not.toContain(parseApiKey(key)!.secret);
    expect(text).not.toMatch(/hash|secret|gp_/);
    // newest first
    expect(list.body.items.map((k: { createdAt: number }) => k.createdAt)).toEqual([...list.body.items.map((k: { createdAt: number }) => k.createdAt)].sort((a, b) => b - a));
  });

  it('an admin can revoke any key; an account cannot revoke another account’s key (404, like a missing one)', async () => {
    const [a, b] = await Promise.all([pool.newAccount('provider', 'pa'), pool.newAccount('provider', 'pb')]);
    const bKeyId = b.key.split('_')[1];
    expectProblem(await a.api.del(`/v1/keys/${bKeyId}`), 404);
    expect((await b.api.get('/v1/balance')).status).toBe(200);
    expect((await pool.admin.del(`/v1/keys/${bKeyId}`)).status).toBe(204);
    await eventually(async () => ((await b.api.get('/v1/balance')).status === 401 ? true : undefined), CACHE_TTL_MS + 5_000);
  });

  it('notes lastUsedAt at most once a minute per key', async () => {
    const c = await pool.newAccount('consumer', 'counted');
    const keyId = c.key.split('_')[1];
    expect((await pool.stack.deps.keys.get(keyId))!.lastUsedAt).toBeUndefined();
    await c.api.get('/v1/balance');
    const first = (await pool.stack.deps.keys.get(keyId))!.lastUsedAt!;
    expect(first).toEqual(expect.any(Number));
    // every cache miss runs the authorizer, which reads the key again, but writes nothing within the minute
    for (let i = 0; i < 3; i++) expect((await authorize(pool.stack.deps, c.key))?.accountId).toBe(c.id);
    expect((await pool.stack.deps.keys.get(keyId))!.lastUsedAt).toBe(first);
    // the conditional write settles races: a touch within the minute is refused, one after it lands
    expect(await pool.stack.deps.keys.touch(keyId, first + 30_000)).toBe(false);
    expect(await pool.stack.deps.keys.touch(keyId, first + 61_000)).toBe(true);
    expect((await pool.stack.deps.keys.get(keyId))!.lastUsedAt).toBe(first + 61_000);
  });

  it('GET /v1/balance says which account and role the key speaks for', async () => {
    const p = await pool.newAccount('provider', 'who');
    expect((await p.api.get('/v1/balance')).body).toEqual({ accountId: p.id, role: 'provider', available: 0, held: 0, staked: 0, stakeFree: 0, stakeLocked: 0, unbonding: 0, symbol: 'ATH' });
    const admin = await pool.admin.get('/v1/balance');
    expect(admin.body).toMatchObject({ accountId: expect.stringMatching(/^admin-/), role: 'admin' });
  });
});

describe('agent credentials', () => {
  it('POST /v1/agent/session returns STS credentials scoped to the node’s own queue when AGENT_ROLE_ARN is set', async () => {
    const provider = await pool.newAccount('provider', 'creds');
    const node = await registerNode(provider.api, 'creds-node', 'T4');
    const s = await client(pool.stack.apiUrl, node.key).post('/v1/agent/session', { bootId: 'b1' });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    expect(s.body.credentials).toEqual({ accessKeyId: 'ASIALOCAL', secretAccessKey: 's', sessionToken: 't', expiresAt: expect.any(Number) });
    expect(s.body.credentials.expiresAt - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, { RoleArn: AGENT_ROLE, RoleSessionName: node.id, Tags: [{ Key: 'nodeId', Value: node.id }] });
    const policy = JSON.parse(sts.commandCalls(AssumeRoleCommand).at(-1)!.args[0].input.Policy!);
    // the local queue URL names no region: the stack's region applies
    const queueName = new URL(s.body.queueUrl).pathname.split('/').pop();
    expect(policy.Statement).toEqual([expect.objectContaining({ Resource: `arn:aws:sqs:us-east-1:123456789012:${queueName}` })]);
    expect(queueName).toContain(node.id);
  });
});
