// The local gateway in front of fake handlers: routing, the API Gateway REST proxy event it builds,
// the authorizer with its cache, and the problem documents it answers with itself.
import { request } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Caller } from '../../../functions/domain/model';
import { ROUTE_GROUPS, type RouteGroup } from '../../../functions/http/routes';
import { startGateway, type Gateway, type LambdaHandler } from '../../../lib/local/gateway';

const CALLERS: Record<string, Caller> = {
  'k-admin': { accountId: 'a-admin', role: 'admin', keyId: 'k1' },
  'k-consumer': { accountId: 'a-consumer', role: 'consumer', keyId: 'k2' },
  'k-provider': { accountId: 'a-provider', role: 'provider', keyId: 'k3' },
  'k-node': { accountId: 'a-provider', role: 'node', keyId: 'k4', nodeId: 'n1' },
};

let clock = 1_000_000;
let authorizeCalls: string[] = [];
let seen: { group: RouteGroup; event: APIGatewayProxyEvent; context: Context }[] = [];
let behaviour: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> | APIGatewayProxyResult;
const logged: string[] = [];
let gw: Gateway;

const echo = (event: APIGatewayProxyEvent): APIGatewayProxyResult => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ path: event.path }),
});

beforeAll(async () => {
  const handlers = Object.fromEntries(
    ROUTE_GROUPS.map((group): [RouteGroup, LambdaHandler] => [
      group,
      async (event, context) => {
        seen.push({ group, event, context });
        return behaviour(event);
      },
    ]),
  ) as Record<RouteGroup, LambdaHandler>;
  gw = await startGateway({
    port: 0,
    handlers,
    authorize: async (key) => {
      authorizeCalls.push(key);
      return CALLERS[key];
    },
    cacheTtlMs: 60_000,
    now: () => clock,
    timeoutMs: 300,
    log: (msg) => logged.push(msg),
    extraRoutes: [{ method: 'GET', path: '/install.sh', serve: (_req, res) => void res.end('#!/bin/sh\n') }],
  });
});
afterAll(() => gw?.close());
beforeEach(() => {
  seen = [];
  authorizeCalls = [];
  behaviour = echo;
});

const call = (path: string, init: RequestInit & { key?: string } = {}) =>
  fetch(`${gw.url}${path}`, { ...init, headers: { ...(init.key ? { 'X-Api-Key': init.key } : {}), ...(init.headers as object) } });

async function expectProblem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  const body = await res.json();
  expect(body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  return body;
}

describe('routing', () => {
  it('routes to the group handler with the template, path parameters and query string', async () => {
    const res = await call('/v1/jobs/job%201/logs?after=3&tag=a&tag=b', { key: 'k-consumer' });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
    const { group, event, context } = seen[0];
    expect(group).toBe('jobs');
    expect(event).toMatchObject({
      resource: '/v1/jobs/{id}/logs',
      path: '/v1/jobs/job%201/logs',
      httpMethod: 'GET',
      pathParameters: { id: 'job 1' },
      queryStringParameters: { after: '3', tag: 'b' },
      multiValueQueryStringParameters: { after: ['3'], tag: ['a', 'b'] },
      body: null,
      isBase64Encoded: false,
    });
    expect(context.functionName).toBe('gpupool-jobs');
    expect(context.awsRequestId).toBe(res.headers.get('x-request-id'));
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(0);
  });

  it('sends null parameters when there are none, and needs no key on public routes', async () => {
    expect((await call('/v1/health')).status).toBe(200);
    expect(seen[0].event).toMatchObject({ pathParameters: null, queryStringParameters: null, multiValueQueryStringParameters: null });
    expect(seen[0].event.requestContext.authorizer).toBeNull();
    expect(authorizeCalls).toEqual([]);
  });

  it('answers 404 for an unknown path and 405 with Allow for another method', async () => {
    await expectProblem(await call('/v1/nope'), 404);
    await expectProblem(await call('/v1/jobs/'), 404);
    await expectProblem(await call('/v1/jobs/%E0%A4%A'), 404);
    await expectProblem(await call('//v1/health'), 404);
    const res = await call('/v1/jobs', { method: 'PUT', key: 'k-consumer' });
    await expectProblem(res, 405);
    expect(res.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'POST']);
    expect(seen).toEqual([]);
  });

  it('serves extra routes', async () => {
    expect(await (await call('/install.sh')).text()).toBe('#!/bin/sh\n');
  });
});

describe('bodies', () => {
  it('passes the body as a string and the headers as sent', async () => {
    const body = await new Promise<number>((resolve, reject) => {
      const req = request(`${gw.url}/v1/jobs`, { method: 'POST', headers: { 'X-Api-Key': 'k-consumer', 'Content-Type': 'application/json', 'X-Multi': ['1', '2'] } });
      req.on('response', (res) => (res.resume(), resolve(res.statusCode!)));
      req.on('error', reject);
      req.end('{"name":"x"}');
    });
    expect(body).toBe(200);
    const { event } = seen[0];
    expect(event.body).toBe('{"name":"x"}');
    expect(event.headers).toMatchObject({ 'X-Api-Key': 'k-consumer', 'Content-Type': 'application/json', 'X-Multi': '2' });
    expect(event.multiValueHeaders['X-Multi']).toEqual(['1', '2']);
  });

  it('answers 413 beyond 256 KB without calling the handler', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(300 * 1024) });
    await expectProblem(await call('/v1/jobs', { method: 'POST', key: 'k-consumer', body: big, headers: { 'content-type': 'application/json' } }), 413);
    // a declared huge body is refused before it is read
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${gw.url}/v1/jobs`, { method: 'POST', headers: { 'content-length': String(50 * 1024 * 1024) } });
      req.on('response', (res) => (res.resume(), resolve(res.statusCode!)));
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toBe(413);
    expect(seen).toEqual([]);
  });
});

describe('authorization', () => {
  it('answers 401 without a key or with an unknown one, and 403 for a role the route does not take', async () => {
    await expectProblem(await call('/v1/jobs'), 401);
    await expectProblem(await call('/v1/jobs', { key: 'k-unknown' }), 401);
    await expectProblem(await call('/v1/jobs', { method: 'POST', key: 'k-provider', body: '{}' }), 403);
    await expectProblem(await call('/v1/agent/heartbeat', { method: 'POST', key: 'k-consumer', body: '{}' }), 403);
    expect(seen).toEqual([]);
  });

  it('hands the caller over as API Gateway delivers the authorizer context', async () => {
    await call('/v1/agent/heartbeat', { method: 'POST', key: 'k-node', body: '{}' });
    await call('/v1/balance', { key: 'k-admin' });
    const [node, admin] = seen.map((s) => s.event.requestContext);
    expect(node).toMatchObject({
      stage: 'local',
      resourcePath: '/v1/agent/heartbeat',
      httpMethod: 'POST',
      path: '/v1/agent/heartbeat',
      identity: { sourceIp: '127.0.0.1' },
      authorizer: { principalId: 'a-provider', accountId: 'a-provider', role: 'node', keyId: 'k4', nodeId: 'n1' },
    });
    expect(node.requestTimeEpoch).toBe(clock);
    expect(admin.authorizer).toEqual({ principalId: 'a-admin', accountId: 'a-admin', role: 'admin', keyId: 'k1', nodeId: '' });
    expect(node.requestId).not.toBe(admin.requestId);
  });

  it('caches an allow answer per key for the TTL, and never a deny', async () => {
    clock += 120_000; // past anything an earlier test cached
    await call('/v1/balance', { key: 'k-consumer' });
    await call('/v1/balance', { key: 'k-consumer' });
    expect(authorizeCalls).toEqual(['k-consumer']);
    clock += 60_001;
    await call('/v1/balance', { key: 'k-consumer' });
    expect(authorizeCalls).toEqual(['k-consumer', 'k-consumer']);
    await call('/v1/balance', { key: 'k-unknown' });
    await call('/v1/balance', { key: 'k-unknown' });
    expect(authorizeCalls.filter((k) => k === 'k-unknown')).toHaveLength(2);
  });
});

describe('handler results', () => {
  it('writes status, merged headers and a base64 body', async () => {
    behaviour = () => ({
      statusCode: 201,
      headers: { 'X-One': 'a', 'x-both': 'single' },
      multiValueHeaders: { 'x-both': ['m1', 'm2'] },
      body: Buffer.from([0, 1, 2, 255]).toString('base64'),
      isBase64Encoded: true,
    });
    const res = await call('/v1/health');
    expect(res.status).toBe(201);
    expect(res.headers.get('x-one')).toBe('a');
    expect(res.headers.get('x-both')).toBe('m1, m2');
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([0, 1, 2, 255]);
  });

  it('turns a throw into an opaque 500, a malformed answer into 502 and a slow one into 504', async () => {
    behaviour = () => {
      throw new Error('secret stack detail');
    };
    const body = await expectProblem(await call('/v1/health'), 500);
    expect(JSON.stringify(body)).not.toContain('secret');
    expect(logged.some((l) => l.includes('/v1/health'))).toBe(true);
    behaviour = () => ({ body: 'no status' }) as unknown as APIGatewayProxyResult;
    await expectProblem(await call('/v1/health'), 502);
    behaviour = () => new Promise(() => undefined);
    await expectProblem(await call('/v1/health'), 504);
  });

  it('serves requests concurrently', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    behaviour = async (event) => {
      if (event.resource === '/v1/health') await gate;
      else release();
      return echo(event);
    };
    const [a, b] = await Promise.all([call('/v1/health'), call('/v1/openapi.json')]);
    expect([a.status, b.status]).toEqual([200, 200]);
  });
});
