// The local API gateway: turns HTTP requests into API Gateway REST (v1) proxy events for the same Lambda
// handlers, with the rules API Gateway applies in front of them: the route table (404/405), the body
// limit (413), `x-api-key` through the same authorizer code with its per-key cache (allow answers only,
// as API Gateway caches only policies), roles per route (403), the 29 s integration timeout (504), and
// a malformed handler answer as 502. Requests are served concurrently on kept-alive connections.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Caller } from '../../functions/domain/model';
import { problem } from '../../functions/http/kit/problem';
import { MAX_BODY_BYTES } from '../../functions/http/kit/request';
import { matchPath, ROUTES, type Route, type RouteGroup } from '../../functions/http/routes';
import { UsagePlanMeter, type AgentRateLimitOptions, type RateLimitOptions } from './rate-limit';

export type LambdaHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface ExtraRoute {
  /** an HTTP method, or `*` for any (the services' routing tier takes every method) */
  method: string;
  /** exact path, or a prefix ending in `/*` */
  path: string;
  serve(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
  /** an HTTP Upgrade (WebSocket) on this route; without it the connection is closed */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface GatewayOptions {
  /** 0 picks a free port */
  port: number;
  host?: string;
  handlers: Record<RouteGroup, LambdaHandler>;
  authorize: (rawKey: string) => Promise<Caller | undefined>;
  /** the authorizer cache TTL; API Gateway's is configured ≤ 60 s */
  cacheTtlMs?: number;
  /** API Gateway's integration timeout */
  timeoutMs?: number;
  now?: () => number;
  extraRoutes?: ExtraRoute[];
  /** the account tier: per-account rate, burst and daily quota of every key but node keys (429 + Retry-After beyond); none: unlimited */
  rateLimit?: RateLimitOptions;
  /** the agent tier: per-node rate and burst of node keys, apart from any account's traffic; none: unlimited */
  agentRateLimit?: AgentRateLimitOptions;
  log?: (msg: string, err?: unknown) => void;
}

export interface Gateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A body this much over the limit is not drained: we answer 413 and close the connection. */
const DRAIN_LIMIT = 4 * 1024 * 1024;

function send(res: ServerResponse, r: APIGatewayProxyResult, requestId: string, close = false) {
  const headers: Record<string, string | string[]> = { 'x-request-id': requestId };
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
  // as API Gateway merges them: multiValueHeaders win for a name set in both
  for (const [k, v] of Object.entries(r.multiValueHeaders ?? {})) headers[k.toLowerCase()] = v.map(String);
  const body = r.isBase64Encoded ? Buffer.from(r.body ?? '', 'base64') : Buffer.from(r.body ?? '');
  res.writeHead(r.statusCode, { ...headers, 'content-length': String(body.length), ...(close ? { connection: 'close' } : {}) });
  res.end(body);
}

/** Keeps at most MAX_BODY_BYTES; undefined when the body is larger (`close` when not even drained). */
function readBody(req: IncomingMessage): Promise<{ body?: Buffer; close?: boolean }> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > DRAIN_LIMIT) return resolve({ close: true });
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
      else if (size > DRAIN_LIMIT) {
        req.off('data', onData);
        resolve({ close: true });
      }
    };
    req.on('data', onData);
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? {} : { body: Buffer.concat(chunks) }));
    req.on('error', reject);
  });
}

type RequestUrl = { pathname: string; searchParams: URLSearchParams };

/** Like API Gateway, a literal segment beats a {param}; `allowed` lists other methods on the path. */
function findRoute(method: string, path: string): { route?: Route; params?: Record<string, string>; allowed: string[] } {
  const found: { route: Route; params: Record<string, string> }[] = [];
  for (const route of ROUTES) {
    let params: Record<string, string> | undefined;
    try {
      params = matchPath(route.path, path);
    } catch {
      continue; // malformed percent-encoding: no route matches it
    }
    if (params) found.push({ route, params });
  }
  const hit = found.filter((f) => f.route.method === method).sort((a, b) => Object.keys(a.params).length - Object.keys(b.params).length)[0];
  return { ...hit, allowed: [...new Set(found.map((f) => f.route.method))] };
}

function toEvent(req: IncomingMessage, url: RequestUrl, route: Route, params: Record<string, string>, body: string, caller: Caller | undefined, requestId: string, now: number): APIGatewayProxyEvent {
  // API Gateway keeps the client's header names; a repeated header's last value is in `headers`
  // null-prototype maps: a header or query key such as `__proto__` or `constructor` is just a name
  const headers: Record<string, string> = Object.create(null);
  const multiValueHeaders: Record<string, string[]> = Object.create(null);
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [k, v] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    headers[k] = v;
    (multiValueHeaders[k] ??= []).push(v);
  }
  const query: Record<string, string> = Object.create(null);
  const multiQuery: Record<string, string[]> = Object.create(null);
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const hasQuery = Object.keys(query).length > 0;
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  return {
    resource: route.path,
    path: url.pathname,
    httpMethod: route.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: Object.keys(params).length ? params : null,
    stageVariables: null,
    body: body.length ? body : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      protocol: 'HTTP/1.1',
      httpMethod: route.method,
      path: url.pathname,
      stage: 'local',
      requestId,
      requestTimeEpoch: now,
      resourceId: route.path,
      resourcePath: route.path,
      identity: { ...NO_IDENTITY, sourceIp, userAgent: req.headers['user-agent'] ?? null },
      // what the authorizer's context becomes: strings only, nodeId '' for account keys
      authorizer: caller
        ? { principalId: caller.accountId, accountId: caller.accountId, role: caller.role, keyId: caller.keyId, nodeId: caller.nodeId ?? '' }
        : null,
    },
  };
}

const NO_IDENTITY = {
  accessKey: null, accountId: null, apiKey: null, apiKeyId: null, caller: null, clientCert: null,
  cognitoAuthenticationProvider: null, cognitoAuthenticationType: null, cognitoIdentityId: null,
  cognitoIdentityPoolId: null, principalOrgId: null, user: null, userArn: null,
};

function lambdaContext(group: RouteGroup, requestId: string, deadline: number): Context {
  const name = `gpupool-${group}`;
  const noop = () => undefined;
  return {
    awsRequestId: requestId,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: '1024',
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: noop,
    fail: noop,
    succeed: noop,
  };
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const host = o.host ?? '127.0.0.1';
  const now = o.now ?? Date.now;
  const ttl = o.cacheTtlMs ?? 60_000;
  const timeoutMs = o.timeoutMs ?? 29_000;
  const log = o.log ?? ((msg, err) => console.error(`[gateway] ${msg}`, err ?? ''));
  const cache = new Map<string, { caller: Caller; until: number }>();
  const meter = new UsagePlanMeter({ account: o.rateLimit, agent: o.agentRateLimit }, now);
  const authorize = async (key: string): Promise<Caller | undefined> => {
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.caller;
    cache.delete(key);
    const caller = await o.authorize(key);
    if (caller) cache.set(key, { caller, until: now() + ttl });
    return caller;
  };

  const invoke = async (route: Route, event: APIGatewayProxyEvent, requestId: string): Promise<APIGatewayProxyResult> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    try {
      const r = await Promise.race([o.handlers[route.group](event, lambdaContext(route.group, requestId, Date.now() + timeoutMs)), timeout]);
      if (r === 'timeout') return problem(504, `the ${route.group} function did not answer in time`, 'gateway_timeout');
      if (typeof r?.statusCode !== 'number') {
        log(`${route.method} ${route.path}: malformed proxy result`);
        return problem(502, 'malformed answer from the function', 'bad_gateway');
      }
      return r;
    } catch (e) {
      log(`${route.method} ${route.path} failed (request ${requestId})`, e);
      return problem(500, 'internal error; the request id identifies it in the logs', 'internal');
    } finally {
      clearTimeout(timer);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    // not new URL(): it would read `//host/x` as a host and a path of its own
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const url = { pathname: q < 0 ? raw : raw.slice(0, q), searchParams: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
    const method = req.method ?? 'GET';
    const extra = o.extraRoutes?.find((r) => (r.method === method || r.method === '*') && (r.path === url.pathname || (r.path.endsWith('/*') && url.pathname.startsWith(r.path.slice(0, -1)))));
    if (extra) return extra.serve(req, res);
    const { route, params, allowed } = findRoute(method, url.pathname);
    if (!route) {
      if (!allowed.length) return send(res, problem(404, `no route for ${url.pathname}`, 'not_found'), requestId);
      const r = problem(405, `${url.pathname} takes ${allowed.join(', ')}`, 'method_not_allowed');
      return send(res, { ...r, headers: { ...r.headers, allow: allowed.join(', ') } }, requestId);
    }
    const { body, close } = await readBody(req);
    if (!body) return send(res, problem(413, `bodies are limited to ${MAX_BODY_BYTES} bytes`, 'payload_too_large'), requestId, close);
    let caller: Caller | undefined;
    if (route.roles.length) {
      const key = req.headers['x-api-key'];
      caller = typeof key === 'string' && key ? await authorize(key) : undefined;
      if (!caller) return send(res, problem(401, 'missing or unknown API key', 'unauthorized'), requestId);
      // as the usage plans meter a key the authorizer accepted: a node key per node in the agent tier, any
      // other key per account in the account tier, so no account's burst can starve a node's heartbeats
      const verdict = meter.take(caller);
      if (!verdict.ok) {
        const who = verdict.tier === 'agent' ? 'node' : 'account';
        const detail = verdict.reason === 'quota' ? `the daily request quota of this ${who} is used up` : `too many requests for this ${who}; slow down`;
        const r = problem(429, detail, 'throttled');
        return send(res, { ...r, headers: { ...r.headers, 'retry-after': String(verdict.retryAfterSeconds) } }, requestId);
      }
      if (!route.roles.includes(caller.role)) return send(res, problem(403, `this route is not for ${caller.role} keys`, 'forbidden'), requestId);
    }
    // bytes that are not UTF-8 would reach the handler as U+FFFD and could pass validation: refuse them
    let text: string;
    try {
      text = UTF8.decode(body);
    } catch {
      return send(res, problem(400, 'the body is not valid UTF-8', 'bad_request'), requestId);
    }
    const event = toEvent(req, url, route, params ?? {}, text, caller, requestId, now());
    send(res, await invoke(route, event, requestId), requestId);
  };

  const server = createServer((req, res) => {
    const requestId = randomUUID();
    handle(req, res, requestId).catch((e) => {
      log(`${req.method} ${req.url} failed (request ${requestId})`, e);
      if (!res.headersSent) send(res, problem(500, 'internal error', 'internal'), requestId);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  // upgrades (WebSocket) reach only an extra route that takes them: the API itself never upgrades
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = new URL(req.url ?? '/', 'http://gateway').pathname;
    const extra = o.extraRoutes?.find((r) => r.upgrade && (r.path === pathname || (r.path.endsWith('/*') && pathname.startsWith(r.path.slice(0, -1)))));
    if (extra?.upgrade) return extra.upgrade(req, socket, head);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
