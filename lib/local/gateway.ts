// The local API gateway: turns HTTP requests into API Gateway REST (v1) proxy events for the same Lambda
// handlers, with the same rules API Gateway applies in front of them: route table, body size limit,
// `x-api-key` through the same authorizer code, and the authorizer's cache TTL (allow answers only).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { problem } from '../../functions/http/kit/problem';
import { MAX_BODY_BYTES } from '../../functions/http/kit/request';
import { matchPath, ROUTES, type Route, type RouteGroup } from '../../functions/http/routes';
import type { Caller } from '../../functions/domain/model';

export type LambdaHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface ExtraRoute {
  method: string;
  path: string;
  serve(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export interface GatewayOptions {
  port: number;
  host?: string;
  handlers: Record<RouteGroup, LambdaHandler>;
  authorize: (rawKey: string) => Promise<Caller | undefined>;
  /** the authorizer cache TTL; API Gateway's is configured ≤ 60 s */
  cacheTtlMs?: number;
  now?: () => number;
  extraRoutes?: ExtraRoute[];
}

export interface Gateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, r: APIGatewayProxyResult, requestId: string) {
  const headers: Record<string, string | number | boolean | string[]> = { 'x-request-id': requestId };
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(r.multiValueHeaders ?? {})) headers[k.toLowerCase()] = v.map(String);
  const body = r.isBase64Encoded ? Buffer.from(r.body, 'base64') : Buffer.from(r.body ?? '');
  res.writeHead(r.statusCode, { ...headers, 'content-length': body.length } as never);
  res.end(body);
}

/** Reads the body, stopping at the limit so a huge upload costs no memory. */
function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function findRoute(method: string, path: string): { route?: Route; params?: Record<string, string>; allowed: string[] } {
  const allowed: string[] = [];
  for (const r of ROUTES) {
    const params = matchPath(r.path, path);
    if (!params) continue;
    if (r.method === method) return { route: r, params, allowed };
    allowed.push(r.method);
  }
  return { allowed };
}

function toEvent(req: IncomingMessage, url: URL, route: Route, params: Record<string, string>, body: string, caller: Caller | undefined, requestId: string): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    headers[k] = values.join(',');
    multiValueHeaders[k] = values;
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const hasQuery = Object.keys(query).length > 0;
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
      requestTimeEpoch: Date.now(),
      resourceId: route.path,
      resourcePath: route.path,
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1' } as never,
      authorizer: caller
        ? { principalId: caller.accountId, accountId: caller.accountId, role: caller.role, keyId: caller.keyId, nodeId: caller.nodeId ?? '' }
        : null,
    },
  } as APIGatewayProxyEvent;
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const now = o.now ?? Date.now;
  const ttl = o.cacheTtlMs ?? 60_000;
  const cache = new Map<string, { caller: Caller; until: number }>();
  const authorize = async (key: string): Promise<Caller | undefined> => {
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.caller;
    const caller = await o.authorize(key);
    if (caller) cache.set(key, { caller, until: now() + ttl });
    else cache.delete(key);
    return caller;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://local');
    const method = req.method ?? 'GET';
    const extra = o.extraRoutes?.find((r) => r.method === method && r.path === url.pathname);
    if (extra) return extra.serve(req, res);
    const { route, params, allowed } = findRoute(method, url.pathname);
    if (!route) {
      const r = allowed.length ? problem(405, `use ${allowed.join(', ')}`, 'method_not_allowed') : problem(404, 'no such route', 'not_found');
      if (allowed.length) r.headers = { ...r.headers, allow: allowed.join(', ') };
      return send(res, r, requestId);
    }
    const body = await readBody(req);
    if (body === 'too-large') return send(res, problem(413, `bodies are limited to ${MAX_BODY_BYTES} bytes`, 'payload_too_large'), requestId);
    let caller: Caller | undefined;
    if (route.roles.length) {
      const key = req.headers['x-api-key'];
      caller = typeof key === 'string' && key ? await authorize(key) : undefined;
      if (!caller) return send(res, problem(401, 'missing or unknown API key', 'unauthorized'), requestId);
      if (!route.roles.includes(caller.role)) return send(res, problem(403, `this route is not for ${caller.role} keys`, 'forbidden'), requestId);
    }
    const event = toEvent(req, url, route, params ?? {}, body.toString('utf8'), caller, requestId);
    const context = {
      awsRequestId: requestId,
      functionName: `gpupool-${route.group}`,
      getRemainingTimeInMillis: () => 10_000,
      callbackWaitsForEmptyEventLoop: false,
    } as unknown as Context;
    send(res, await o.handlers[route.group](event, context), requestId);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error('[gateway]', e);
      if (!res.headersSent) send(res, problem(500, 'internal error', 'internal'), 'error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
