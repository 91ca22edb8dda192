// Who gets through the routing tier: the service owner's API key or the service's token, nothing else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_PASS_HEADER } from '../../functions/domain/service/route-pass';
import { putService, request, startHarness, startReplica, type Harness, type Replica, type ServiceFixture } from './harness';

let h: Harness;
let replica: Replica;
let svc: ServiceFixture;
let other: ServiceFixture;
let ownerKey: string;
let strangerKey: string;
let providerKey: string;

beforeAll(async () => {
  h = await startHarness();
  svc = { id: 'svcauth1', accountId: 'acct-owner', token: '' };
  replica = await startReplica(svc.id, 'node-a');
  svc = await putService(h, { id: svc.id, accountId: 'acct-owner', replicas: [{ replica }] });
  other = await putService(h, { accountId: 'acct-stranger', replicas: [{ nodeId: 'node-z', endpoint: replica.url }] });
  ownerKey = (await h.keys.issue({ accountId: 'acct-owner', role: 'consumer', now: Date.now() })).apiKey;
  strangerKey = (await h.keys.issue({ accountId: 'acct-stranger', role: 'consumer', now: Date.now() })).apiKey;
  providerKey = (await h.keys.issue({ accountId: 'acct-owner', role: 'provider', now: Date.now() })).apiKey;
});

afterAll(async () => {
  await replica?.stop();
  await h?.stop();
});

const path = () => `/s/${svc.id}/v1/models?x=1`;
const problemOf = (r: { headers: Record<string, unknown>; body: Buffer }) => {
  expect(r.headers['content-type']).toBe('application/problem+json');
  return JSON.parse(r.body.toString()) as { status: number; detail: string };
};

describe('router authentication', () => {
  it("passes the owner's API key, and the key never reaches the node", async () => {
    const before = replica.seen.length;
    const r = await request(h, { path: path(), headers: { 'x-api-key': ownerKey } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ node: 'node-a', url: `/s/${svc.id}/v1/models?x=1` });
    const seen = replica.seen.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0].passOk).toBe(true);
    expect(seen[0].headers['x-api-key']).toBeUndefined();
  });

  it('passes the service token as Bearer (dropped on the way) and as x-gpupool-token (the app keeps its own Authorization)', async () => {
    const before = replica.seen.length;
    expect((await request(h, { path: path(), headers: { authorization: `Bearer ${svc.token}` } })).status).toBe(200);
    expect((await request(h, { path: path(), headers: { 'x-gpupool-token': svc.token, authorization: 'Basic YXBwOnNlY3JldA==' } })).status).toBe(200);
    const seen = replica.seen.slice(before);
    expect(seen.map((s) => s.passOk)).toEqual([true, true]);
    expect(seen[0].headers.authorization).toBeUndefined();
    expect(seen[1].headers['x-gpupool-token']).toBeUndefined();
    expect(seen[1].headers.authorization).toBe('Basic YXBwOnNlY3JldA==');
  });

  it('refuses an outsider without a key or token: 401 problem, nothing forwarded', async () => {
    const before = replica.seen.length;
    const r = await request(h, { path: path() });
    expect(r.status).toBe(401);
    expect(problemOf(r).status).toBe(401);
    expect(r.headers['www-authenticate']).toContain('Bearer');
    expect(replica.seen.length).toBe(before);
  });

  it('refuses a wrong token, and the token of another service (X used for Y)', async () => {
    const before = replica.seen.length;
    expect((await request(h, { path: path(), headers: { authorization: 'Bearer not-the-token' } })).status).toBe(401);
    expect((await request(h, { path: path(), headers: { 'x-gpupool-token': other.token } })).status).toBe(401);
    // and the same answer for a service that does not exist: a token probes nothing
    expect((await request(h, { path: '/s/svcnosuch/x', headers: { 'x-gpupool-token': other.token } })).status).toBe(401);
    expect(replica.seen.length).toBe(before);
  });

  it("answers another account's key with 404, as the API does, and a provider key of the same account too", async () => {
    const before = replica.seen.length;
    const r = await request(h, { path: path(), headers: { 'x-api-key': strangerKey } });
    expect(r.status).toBe(404);
    expect(problemOf(r).status).toBe(404);
    expect((await request(h, { path: path(), headers: { 'x-api-key': providerKey } })).status).toBe(404);
    expect((await request(h, { path: '/s/svcnosuch/x', headers: { 'x-api-key': ownerKey } })).status).toBe(404);
    expect(replica.seen.length).toBe(before);
  });

  it('refuses a revoked key and an unknown or malformed one: 401', async () => {
    const { record, apiKey } = await h.keys.issue({ accountId: 'acct-owner', role: 'consumer', now: Date.now() });
    await h.keys.revoke(record.id, Date.now());
    expect((await request(h, { path: path(), headers: { 'x-api-key': apiKey } })).status).toBe(401);
    expect((await request(h, { path: path(), headers: { 'x-api-key': `${apiKey.slice(0, -4)}AAAA` } })).status).toBe(401);
    expect((await request(h, { path: path(), headers: { 'x-api-key': 'gp_nonsense' } })).status).toBe(401);
  });

  it("does not let a caller's own x-gpupool-route reach the node: the router's pass replaces it", async () => {
    const before = replica.seen.length;
    const forged = 'eyJzIjoic3ZjYXV0aDEiLCJuIjoibm9kZS1hIiwiZXhwIjo5OTk5OTk5OTk5OTk5fQ.AAAA';
    const r = await request(h, { path: path(), headers: { 'x-gpupool-token': svc.token, [ROUTE_PASS_HEADER]: forged } });
    expect(r.status).toBe(200);
    const seen = replica.seen.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0].headers[ROUTE_PASS_HEADER]).not.toBe(forged);
    expect(seen[0].passOk).toBe(true);
  });

  it('a DELETED service is not found, whatever the credential', async () => {
    const gone = await putService(h, { accountId: 'acct-owner', status: 'DELETED', replicas: [{ replica }] });
    expect((await request(h, { path: `/s/${gone.id}/`, headers: { 'x-api-key': ownerKey } })).status).toBe(404);
    expect((await request(h, { path: `/s/${gone.id}/`, headers: { 'x-gpupool-token': gone.token } })).status).toBe(401);
  });
});
