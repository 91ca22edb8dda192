// The routing tier: one address per service that keeps answering (docs/services.md, Routing). The local
// gateway serves `/s/*` with it; on AWS the same code runs as `gpupool-router` on ECS Fargate behind an ALB
// (bin/gpupool-router.ts). Per request it authenticates the caller (the owner's API key, or the service's
// token), picks a ready replica (nearest first, then fewest in flight), and forwards the request to that
// node's ingress with a route pass signed for exactly (service, node). A connection that fails before any
// byte of the answer came back is tried on the next replica; after a byte was sent to the caller, never.
// Bodies stream both ways; a request body is held back (up to RETRY_BODY_LIMIT) only so it can be resent.
import { createHash, timingSafeEqual, type KeyObject } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressClass } from '../domain/checker/address';
import type { Caller } from '../domain/model';
import { makeRoutePass, ROUTE_PASS_HEADER, ROUTE_PASS_TTL_MS } from '../domain/service/route-pass';
import { problem } from '../http/kit/problem';
import { resolveProbeTarget, type Resolver } from '../usecases/checker-probe-client';
import { downstreamHeaders, presentedToken, upstreamHeaders } from './forward-headers';
import { LoadMeter } from './load-meter';
import { orderReplicas, type LatLon } from './replica-order';
import { serviceTarget } from './route-path';
import type { RoutableReplica, RouteService, RouteTable } from './route-table';
import { TtlCache } from './ttl-cache';
import { rejectUpgrade, splice, upgradeHeaders, writeHead } from './upgrade';
import type { Duplex } from 'node:stream';

/** A request body up to this size is held so the request can be sent to another replica; larger ones stream once. */
export const RETRY_BODY_LIMIT = 1024 * 1024;

export interface ServiceRouterOptions {
  table: RouteTable;
  /** the control plane's Ed25519 private key (functions/usecases/checker-settings.ts controlPlaneKey) */
  signingKey: KeyObject;
  /** this router's name in the services' `load` map */
  routerId: string;
  /** where this router runs: replicas nearer to it are tried first */
  location?: LatLon;
  /** `<serviceId>.<servicesDomain>` names a service (AWS); `/s/<serviceId>/…` always does */
  servicesDomain?: string;
  now?: () => number;
  /** address classes a node's endpoint may have besides public ones ([] on AWS, ['loopback'] locally) */
  allowAddresses?: readonly AddressClass[];
  resolve?: Resolver;
  /** how long a service's replicas are cached. @default 1000 */
  serviceCacheMs?: number;
  /** how long node locations are cached. @default 60000 */
  locationCacheMs?: number;
  /** how long an accepted API key is cached (the authorizer's TTL: revocation takes this long at most). @default 60000 */
  keyCacheMs?: number;
  /** @default 2000 */
  connectTimeoutMs?: number;
  /** from the request sent to the answer's headers; then 504, not retried. @default 120000 */
  responseTimeoutMs?: number;
  /** how often load is written; 0: only by flushLoad(). @default 2000 */
  loadIntervalMs?: number;
  /** a non-zero load is written again after this long even when unchanged. @default 20000 */
  loadRefreshMs?: number;
  /** a replica that refused a connection is tried last for this long. @default 5000 */
  suspectMs?: number;
  log?: (msg: string, err?: unknown) => void;
  /**
   * Asks the control plane to reconcile a service now (AWS: a message on the services' wake queue; locally:
   * the reconcile itself). Called after this router wrote a load beyond what the service's replicas are
   * meant to carry, at most once per wakeEveryMs per service, so a scale-up does not wait for the tick.
   */
  wake?: (serviceId: string) => Promise<void>;
  /** @default 10000 */
  wakeEveryMs?: number;
}

export interface ServiceRouter {
  /** the node http handler for service traffic */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** the server's 'upgrade' handler for service traffic (WebSocket and other protocol switches) */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** whether a request names a service (the rest of the server's routes get everything else) */
  matches(req: IncomingMessage): boolean;
  /** writes the load figures that are due now */
  flushLoad(): Promise<number>;
  close(): Promise<void>;
}

const MAX_CACHED = 10_000;

function sendProblem(res: ServerResponse, status: number, detail: string, code: string, headers: Record<string, string> = {}) {
  if (res.headersSent) return void res.destroy();
  const p = problem(status, detail, code);
  const body = Buffer.from(p.body);
  res.writeHead(status, { ...(p.headers as Record<string, string>), 'content-length': String(body.length), ...headers });
  res.end(body);
}

const TITLES: Record<number, string> = { 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
/** A problem document's text; problem() knows 4xx titles, the gateway statuses get theirs here. */
const problemBody = (status: number, detail: string, code: string): string =>
  TITLES[status] ? JSON.stringify({ type: `https://gpupool.dev/problems/${code.replace(/_/g, '-')}`, title: TITLES[status], status, detail }) : problem(status, detail, code).body;

function sendGatewayProblem(res: ServerResponse, status: 502 | 503 | 504, detail: string, code: string, headers: Record<string, string> = {}) {
  if (res.headersSent) return void res.destroy();
  const body = Buffer.from(problemBody(status, detail, code));
  res.writeHead(status, { 'content-type': 'application/problem+json', 'content-length': String(body.length), ...headers });
  res.end(body);
}

function tokenMatches(token: string, tokenSha256: string | undefined): boolean {
  if (!tokenSha256 || token.length > 512) return false;
  const a = createHash('sha256').update(token).digest();
  const b = Buffer.from(tokenSha256, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

type Body = { kind: 'buffered'; data: Buffer; hadBody: boolean } | { kind: 'stream'; head: Buffer[] };

/** Reads the body up to `limit`; beyond it, stops reading and hands back what it has (the rest streams). */
function readUpTo(req: IncomingMessage, limit: number): Promise<Body> {
  const hadBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (Number(req.headers['content-length']) > limit) return Promise.resolve({ kind: 'stream', head: [] });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size > limit) {
        req.pause();
        cleanup();
        resolve({ kind: 'stream', head: chunks });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ kind: 'buffered', data: Buffer.concat(chunks), hadBody });
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** How one try ended: answered (bytes went to the caller, or the caller left), or failed before any byte. */
type Outcome = { kind: 'answered' } | { kind: 'refused'; why: string } | { kind: 'timeout' };

export function createServiceRouter(o: ServiceRouterOptions): ServiceRouter {
  const now = o.now ?? Date.now;
  const log = o.log ?? ((msg, err) => console.error(`[router] ${msg}`, err ?? ''));
  const allow = o.allowAddresses ?? [];
  const connectTimeoutMs = o.connectTimeoutMs ?? 2_000;
  const responseTimeoutMs = o.responseTimeoutMs ?? 120_000;
  const suspectMs = o.suspectMs ?? 5_000;
  const services = new TtlCache<string, RouteService | undefined>(o.serviceCacheMs ?? 1_000, MAX_CACHED, now);
  const locations = new TtlCache<string, LatLon | undefined>(o.locationCacheMs ?? 60_000, MAX_CACHED, now);
  const keys = new TtlCache<string, Caller | undefined>(o.keyCacheMs ?? 60_000, MAX_CACHED, now);
  const addresses = new TtlCache<string, Awaited<ReturnType<typeof resolveProbeTarget>>>(10_000, MAX_CACHED, now);
  const passes = new Map<string, { pass: string; renewAt: number }>();
  const inflight = new Map<string, number>();
  const suspects = new Map<string, number>();
  const wokenAt = new Map<string, number>();
  /** each service's scale as last read, for wakeIfBeyond */
  const scales = new Map<string, NonNullable<RouteService['scale']>>();
  const load = new LoadMeter(async (id, v) => {
    await o.table.writeLoad(id, o.routerId, v);
    await wakeIfBeyond(id, v.inflight);
  }, o.loadRefreshMs ?? 20_000);
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256 });
  let rotation = 0;

  const interval = o.loadIntervalMs ?? 2_000;
  const timer = interval > 0 ? setInterval(() => void load.flush(now()).catch((e) => log('load write failed', e)), interval) : undefined;
  timer?.unref();

  /** After a load write: beyond desired × targetInflight with room to grow, the reconcile is asked for now. */
  async function wakeIfBeyond(serviceId: string, inflight: number): Promise<void> {
    const scale = scales.get(serviceId);
    if (!o.wake || !scale || scale.desired >= scale.max || inflight <= scale.desired * scale.targetInflight) return;
    const t = now();
    if (t - (wokenAt.get(serviceId) ?? -Infinity) < (o.wakeEveryMs ?? 10_000)) return;
    wokenAt.set(serviceId, t);
    if (wokenAt.size > MAX_CACHED) wokenAt.delete(wokenAt.keys().next().value!);
    await o.wake(serviceId).catch((e) => log(`wake for ${serviceId} failed`, e));
  }

  const resolveKey = (raw: string) =>
    keys.get(raw, () => o.table.resolveKey(raw)).then((c) => {
      // only accepted keys are kept, as API Gateway caches only allow policies
      if (!c) keys.delete(raw);
      return c;
    });

  const passFor = (serviceId: string, nodeId: string) => {
    const k = `${serviceId}\n${nodeId}`;
    const t = now();
    const hit = passes.get(k);
    if (hit && hit.renewAt > t) return hit.pass;
    if (passes.size >= MAX_CACHED) passes.clear();
    const pass = makeRoutePass(o.signingKey, serviceId, nodeId, t);
    passes.set(k, { pass, renewAt: t + ROUTE_PASS_TTL_MS / 2 });
    return pass;
  };

  const isSuspect = (r: RoutableReplica) => {
    const until = suspects.get(r.attemptId);
    if (until === undefined) return false;
    if (until > now()) return true;
    suspects.delete(r.attemptId);
    return false;
  };

  async function ordered(svc: RouteService): Promise<RoutableReplica[]> {
    const locs = await Promise.all(
      svc.replicas.map((r) => locations.get(r.nodeId, async () => (await o.table.locations([r.nodeId])).get(r.nodeId)).catch(() => undefined)),
    );
    const view = svc.replicas.map((r, i) => ({ id: r.attemptId, r, location: locs[i], inflight: inflight.get(r.attemptId) ?? 0, suspect: isSuspect(r) }));
    return orderReplicas(view, o.location, rotation++).map((v) => v.r);
  }

  /** Sends the request to one replica and, once its answer's headers come, streams the answer to the caller. */
  /** Where a replica's node is (its endpoint resolved and checked) and the headers a request to it carries. */
  async function upstreamFor(req: IncomingMessage, svcId: string, rep: RoutableReplica, dropAuthorization: boolean, extra: Record<string, string> = {}) {
    let resolved: Awaited<ReturnType<typeof resolveProbeTarget>>;
    try {
      resolved = await addresses.get(rep.endpoint, () => resolveProbeTarget(rep.endpoint, allow, o.resolve));
    } catch (e) {
      return { refused: (e as Error).message };
    }
    const { target, address } = resolved;
    const isHttps = target.protocol === 'https:';
    const defaultPort = isHttps ? 443 : 80;
    const headers: Record<string, string | string[]> = { ...upstreamHeaders(req.rawHeaders, { dropAuthorization }), ...extra };
    headers.host = target.port === defaultPort ? target.host : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    headers[ROUTE_PASS_HEADER] = passFor(svcId, rep.nodeId);
    return { target, address, isHttps, headers };
  }

  async function tryReplica(req: IncomingMessage, res: ServerResponse, svcId: string, path: string, rep: RoutableReplica, body: Body, dropAuthorization: boolean): Promise<Outcome> {
    const u = await upstreamFor(req, svcId, rep, dropAuthorization);
    if ('refused' in u) return { kind: 'refused', why: u.refused! };
    const { target, address, isHttps, headers } = u;
    if (body.kind === 'buffered') {
      if (body.hadBody || body.data.length) headers['content-length'] = String(body.data.length);
    } else if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];

    return new Promise<Outcome>((resolve) => {
      let settled = false;
      let answered = false;
      const done = (out: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(responseTimer);
        resolve(out);
      };
      const up = (isHttps ? https : http).request({
        host: address.address,
        family: address.family,
        port: target.port,
        path,
        method: req.method,
        headers,
        agent: isHttps ? httpsAgent : httpAgent,
        ...(isHttps ? { servername: target.host } : {}),
      });
      let timedOut = false;
      const responseTimer = setTimeout(() => {
        timedOut = true;
        up.destroy(new Error('no answer in time'));
      }, responseTimeoutMs);
      up.on('socket', (s) => {
        if (!s.connecting) return;
        const t = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'ECONNTIMEOUT' })), connectTimeoutMs);
        s.once('connect', () => clearTimeout(t));
        s.once('close', () => clearTimeout(t));
      });
      up.on('response', (ur) => {
        answered = true;
        clearTimeout(responseTimer);
        // from here on bytes go to the caller: no other replica gets this request
        res.writeHead(ur.statusCode ?? 502, downstreamHeaders(ur.rawHeaders));
        ur.pipe(res);
        ur.on('error', () => res.destroy());
        ur.on('aborted', () => res.destroy());
        res.on('close', () => {
          if (!res.writableFinished) up.destroy();
          done({ kind: 'answered' });
        });
      });
      up.on('error', (e: NodeJS.ErrnoException) => {
        if (answered) {
          res.destroy();
          return done({ kind: 'answered' });
        }
        if (timedOut) return done({ kind: 'timeout' });
        done({ kind: 'refused', why: e.code ?? e.message });
      });
      // the caller went away before the answer: stop the upstream request too
      res.on('close', () => {
        if (!answered) {
          up.destroy();
          done({ kind: 'answered' });
        }
      });
      if (body.kind === 'buffered') {
        up.end(body.hadBody || body.data.length ? body.data : undefined);
      } else {
        for (const c of body.head) up.write(c);
        req.pipe(up);
        req.resume();
      }
    });
  }

  type Admitted = { ok: true; live: RouteService; upstreamPath: string; dropAuthorization: boolean };
  type Refused = { ok: false; status: number; detail: string; code: string; headers?: Record<string, string> };

  /** Who may call which service: the owner's API key or the service's token; a service with a ready replica. */
  async function admit(req: IncomingMessage): Promise<Admitted | Refused> {
    const target = serviceTarget(req.url ?? '/', req.headers.host, o.servicesDomain);
    if (!target) return { ok: false, status: 404, detail: 'no such service', code: 'not_found' };
    const apiKey = typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'] : undefined;
    const token = presentedToken(req.headers);
    const challenge = { 'www-authenticate': 'Bearer realm="gpupool-service"' };
    if (!apiKey && !token) return { ok: false, status: 401, detail: 'an API key (x-api-key) or the service token (Authorization: Bearer …) is required', code: 'unauthorized', headers: challenge };

    const svc = await services.get(target.serviceId, () => o.table.service(target.serviceId));
    const live = svc && svc.status !== 'DELETED' ? svc : undefined;
    if (live?.scale) {
      scales.delete(live.id);
      scales.set(live.id, live.scale);
      if (scales.size > MAX_CACHED) scales.delete(scales.keys().next().value!);
    }
    const byToken = !!token && !!live && tokenMatches(token.token, live.tokenSha256);
    if (!byToken) {
      if (!apiKey) return { ok: false, status: 401, detail: 'wrong service token', code: 'unauthorized', headers: challenge };
      const caller = await resolveKey(apiKey);
      if (!caller) return { ok: false, status: 401, detail: 'missing or unknown API key', code: 'unauthorized', headers: challenge };
      // another account's service is not found, as the API answers for another account's job
      if (!live || caller.accountId !== live.accountId || caller.role !== 'consumer') return { ok: false, status: 404, detail: 'no such service', code: 'not_found' };
    }
    if (!live!.replicas.length) return { ok: false, status: 503, detail: 'no replica of this service is ready yet', code: 'unavailable', headers: { 'retry-after': '1' } };
    return { ok: true, live: live!, upstreamPath: target.upstreamPath, dropAuthorization: byToken && token!.from === 'authorization' };
  }

  const refuse = (res: ServerResponse, r: Refused) =>
    r.status >= 500 ? sendGatewayProblem(res, r.status as 502 | 503 | 504, r.detail, r.code, r.headers) : sendProblem(res, r.status, r.detail, r.code, r.headers);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const a = await admit(req);
    if (!a.ok) return refuse(res, a);
    const { live, dropAuthorization } = a;
    const target = { upstreamPath: a.upstreamPath };
    const retryAfter = { 'retry-after': '1' };

    load.enter(live.id);
    try {
      const candidates = await ordered(live);
      const body = await readUpTo(req, RETRY_BODY_LIMIT);
      for (const rep of candidates) {
        inflight.set(rep.attemptId, (inflight.get(rep.attemptId) ?? 0) + 1);
        let out: Outcome;
        try {
          out = await tryReplica(req, res, live.id, target.upstreamPath, rep, body, dropAuthorization);
        } finally {
          const n = (inflight.get(rep.attemptId) ?? 1) - 1;
          if (n > 0) inflight.set(rep.attemptId, n);
          else inflight.delete(rep.attemptId);
        }
        if (out.kind === 'answered') return;
        if (out.kind === 'timeout') return sendGatewayProblem(res, 504, 'the replica did not answer in time', 'gateway_timeout');
        suspects.set(rep.attemptId, now() + suspectMs);
        log(`replica ${rep.jobId} on ${rep.nodeId} refused (${out.why})${body.kind === 'buffered' ? '; trying the next' : ''}`);
        // a streamed body was partly sent to it and is gone: it cannot be sent again
        if (body.kind === 'stream') return sendGatewayProblem(res, 502, 'the replica refused the request and its body was too large to send again', 'bad_gateway');
      }
      // every ready replica refused: the control plane will notice soon (readiness, heartbeats)
      services.delete(live.id);
      sendGatewayProblem(res, 503, 'no replica of this service answered', 'unavailable', retryAfter);
    } finally {
      load.leave(live.id);
    }
  }

  /**
   * An upgrade (WebSocket): the same admission, then the handshake is sent to the replicas in order until
   * one answers; a 101 splices the caller's socket to the node's until either closes, any other answer is
   * passed back. A replica that refuses the connection is skipped, as for a request.
   */
  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const a = await admit(req);
    if (!a.ok) return rejectUpgrade(socket, a.status, problemBody(a.status, a.detail, a.code), a.headers);
    const { live } = a;
    load.enter(live.id);
    let open = false;
    try {
      for (const rep of await ordered(live)) {
        const out = await tryUpgrade(req, socket, head, live.id, a.upstreamPath, rep, a.dropAuthorization);
        if (out.kind === 'answered') {
          open = out.open;
          if (open) socket.once('close', () => load.leave(live.id));
          return;
        }
        suspects.set(rep.attemptId, now() + suspectMs);
        log(`replica ${rep.jobId} on ${rep.nodeId} refused an upgrade (${out.why}); trying the next`);
      }
      services.delete(live.id);
      rejectUpgrade(socket, 503, problemBody(503, 'no replica of this service answered', 'unavailable'), { 'retry-after': '1' });
    } finally {
      if (!open) load.leave(live.id);
    }
  }

  async function tryUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    svcId: string,
    path: string,
    rep: RoutableReplica,
    dropAuthorization: boolean,
  ): Promise<{ kind: 'answered'; open: boolean } | { kind: 'refused'; why: string }> {
    const u = await upstreamFor(req, svcId, rep, dropAuthorization, upgradeHeaders(req.headers));
    if ('refused' in u) return { kind: 'refused', why: u.refused! };
    const { target, address, isHttps, headers } = u;
    return new Promise((resolve) => {
      let settled = false;
      const done = (out: { kind: 'answered'; open: boolean } | { kind: 'refused'; why: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(out);
      };
      // an upgraded connection is never pooled: no agent
      const up = (isHttps ? https : http).request({ host: address.address, family: address.family, port: target.port, path, method: req.method, headers, agent: false, ...(isHttps ? { servername: target.host } : {}) });
      const timer = setTimeout(() => up.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })), Math.min(responseTimeoutMs, connectTimeoutMs * 5));
      up.on('upgrade', (ur, upSocket, upHead) => {
        writeHead(socket, 101, [...downstreamHeaders(ur.rawHeaders), ...Object.entries(upgradeHeaders(ur.headers)).flat()], ur.statusMessage);
        if (upHead.length) socket.write(upHead);
        if (head.length) upSocket.write(head);
        splice(socket, upSocket);
        done({ kind: 'answered', open: true });
      });
      up.on('response', (ur) => {
        // the replica did not switch protocols: its answer goes back as it is, and the connection ends
        writeHead(socket, ur.statusCode ?? 502, [...downstreamHeaders(ur.rawHeaders), 'connection', 'close'], ur.statusMessage);
        ur.pipe(socket);
        done({ kind: 'answered', open: false });
      });
      up.on('error', (e: NodeJS.ErrnoException) => done({ kind: 'refused', why: e.code ?? e.message }));
      socket.once('close', () => {
        if (!settled) up.destroy();
      });
      up.end();
    });
  }

  return {
    matches: (req) => serviceTarget(req.url ?? '/', req.headers.host, o.servicesDomain) !== undefined,
    handleUpgrade(req, socket, head) {
      upgrade(req, socket, head).catch((e) => {
        log(`upgrade ${req.url} failed`, e);
        rejectUpgrade(socket, 502, problemBody(502, 'internal error in the routing tier', 'bad_gateway'));
      });
    },
    handle(req, res) {
      serve(req, res).catch((e) => {
        log(`${req.method} ${req.url} failed`, e);
        if (!res.headersSent) sendGatewayProblem(res, 502, 'internal error in the routing tier', 'bad_gateway');
        else res.destroy();
      });
    },
    flushLoad: () => load.flush(now()),
    async close() {
      if (timer) clearInterval(timer);
      await load.flush(now()).catch(() => undefined);
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
