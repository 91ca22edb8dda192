// The routing tier: one address per service that keeps answering (docs/services.md, Routing). The local
// gateway serves `/s/*` with it; on AWS the same code runs as `gpupool-router` on ECS Fargate behind an ALB
// (bin/gpupool-router.ts). Per request it authenticates the caller (the owner's API key, or the service's
// token), picks a ready replica (nearest first, then fewest in flight), and forwards the request to that
// node's ingress with a route pass signed for exactly (service, node). A connection that fails before any
// byte of the answer came back is tried on the next replica; after a byte was sent to the caller, never.
// Bodies stream both ways; a request body is held back (up to RETRY_BODY_LIMIT) only so it can be resent.
import type { KeyObject } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { AddressClass } from '../domain/checker/address';
import type { Caller } from '../domain/model';
import { makeRoutePass, ROUTE_PASS_TTL_MS } from '../domain/service/route-pass';
import { resolveProbeTarget, type Resolver } from '../usecases/checker-probe-client';
import { admit } from './admission';
import { forwardRequest, type Outcome } from './forward-request';
import { problemBody, sendProblem } from './gateway-problems';
import { LoadMeter } from './load-meter';
import { orderReplicas, type LatLon } from './replica-order';
import { readUpTo, RETRY_BODY_LIMIT } from './request-body';
import { serviceTarget } from './route-path';
import type { RoutableReplica, RouteService, RouteTable } from './route-table';
import { TtlCache } from './ttl-cache';
import { forwardUpgrade, rejectUpgrade } from './upgrade';
import { upstream, type ResolvedEndpoint, type Upstream } from './upstream';
import { logger } from '../observability/logger';

export { RETRY_BODY_LIMIT };

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

/** the router's own lines: a warning with the error when something failed, else information */
export const routerLog = (msg: string, err?: unknown): void => (err ? logger.warn(msg, { error: err }) : logger.info(msg));

export function createServiceRouter(o: ServiceRouterOptions): ServiceRouter {
  const now = o.now ?? Date.now;
  const log = o.log ?? routerLog;
  const allow = o.allowAddresses ?? [];
  const connectTimeoutMs = o.connectTimeoutMs ?? 2_000;
  const responseTimeoutMs = o.responseTimeoutMs ?? 120_000;
  const suspectMs = o.suspectMs ?? 5_000;
  const services = new TtlCache<string, RouteService | undefined>(o.serviceCacheMs ?? 1_000, MAX_CACHED, now);
  const locations = new TtlCache<string, LatLon | undefined>(o.locationCacheMs ?? 60_000, MAX_CACHED, now);
  const keys = new TtlCache<string, Caller | undefined>(o.keyCacheMs ?? 60_000, MAX_CACHED, now);
  const addresses = new TtlCache<string, ResolvedEndpoint>(10_000, MAX_CACHED, now);
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
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 256 }), https: new https.Agent({ keepAlive: true, maxSockets: 256 }) };
  const forwarding = { agents, connectTimeoutMs, responseTimeoutMs };
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

  /** Where a replica's node is (its endpoint resolved and checked) and the headers a request to it carries. */
  async function upstreamFor(req: IncomingMessage, svcId: string, rep: RoutableReplica, dropAuthorization: boolean): Promise<Upstream | { refused: string }> {
    let resolved: ResolvedEndpoint;
    try {
      resolved = await addresses.get(rep.endpoint, () => resolveProbeTarget(rep.endpoint, allow, o.resolve));
    } catch (e) {
      return { refused: (e as Error).message };
    }
    return upstream(req, resolved, passFor(svcId, rep.nodeId), dropAuthorization);
  }

  const admission = {
    servicesDomain: o.servicesDomain,
    resolveKey,
    async service(id: string) {
      const svc = await services.get(id, () => o.table.service(id));
      if (svc && svc.status !== 'DELETED' && svc.scale) {
        scales.delete(svc.id);
        scales.set(svc.id, svc.scale);
        if (scales.size > MAX_CACHED) scales.delete(scales.keys().next().value!);
      }
      return svc;
    },
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const a = await admit(req, admission);
    if (!a.ok) return sendProblem(res, a.status, a.detail, a.code, a.headers);
    const { live, dropAuthorization, upstreamPath } = a;

    load.enter(live.id);
    try {
      const candidates = await ordered(live);
      const body = await readUpTo(req, RETRY_BODY_LIMIT);
      for (const rep of candidates) {
        inflight.set(rep.attemptId, (inflight.get(rep.attemptId) ?? 0) + 1);
        let out: Outcome;
        try {
          const u = await upstreamFor(req, live.id, rep, dropAuthorization);
          out = 'refused' in u ? { kind: 'refused', why: u.refused } : await forwardRequest(req, res, u, upstreamPath, body, forwarding);
        } finally {
          const n = (inflight.get(rep.attemptId) ?? 1) - 1;
          if (n > 0) inflight.set(rep.attemptId, n);
          else inflight.delete(rep.attemptId);
        }
        if (out.kind === 'answered') return;
        if (out.kind === 'timeout') return sendProblem(res, 504, 'the replica did not answer in time', 'gateway_timeout');
        suspects.set(rep.attemptId, now() + suspectMs);
        log(`replica ${rep.jobId} on ${rep.nodeId} refused (${out.why})${body.kind === 'buffered' ? '; trying the next' : ''}`);
        // a streamed body was partly sent to it and is gone: it cannot be sent again
        if (body.kind === 'stream') return sendProblem(res, 502, 'the replica refused the request and its body was too large to send again', 'bad_gateway');
      }
      // every ready replica refused: the control plane will notice soon (readiness, heartbeats)
      services.delete(live.id);
      sendProblem(res, 503, 'no replica of this service answered', 'unavailable', { 'retry-after': '1' });
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
    const a = await admit(req, admission);
    if (!a.ok) return rejectUpgrade(socket, a.status, problemBody(a.status, a.detail, a.code), a.headers);
    const { live } = a;
    load.enter(live.id);
    let open = false;
    try {
      for (const rep of await ordered(live)) {
        const u = await upstreamFor(req, live.id, rep, a.dropAuthorization);
        const out = 'refused' in u ? { kind: 'refused' as const, why: u.refused } : await forwardUpgrade(req, socket, head, u, a.upstreamPath, Math.min(responseTimeoutMs, connectTimeoutMs * 5));
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
        if (!res.headersSent) sendProblem(res, 502, 'internal error in the routing tier', 'bad_gateway');
        else res.destroy();
      });
    },
    flushLoad: () => load.flush(now()),
    async close() {
      if (timer) clearInterval(timer);
      await load.flush(now()).catch(() => undefined);
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
