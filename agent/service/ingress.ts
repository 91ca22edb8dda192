// The node's ingress for service traffic, served by the agent's probe server: /s/<serviceId>/<rest> goes to
// http://127.0.0.1:<hostPort>/<rest> of this node's replica of that service. Only the routing tier may send
// it: each request must carry the control plane's route pass for exactly this service at exactly this node,
// unexpired (functions/domain/service/route-pass.ts); anyone else who knows the node's address gets 403
// before anything about the node's services is revealed. Nodes are strangers to the caller, and a replica
// is a stranger's program: the pass and the caller's credentials (Authorization, x-api-key,
// x-gpupool-token) are never forwarded to it. Bodies stream both ways; nothing is buffered.
import type { KeyObject } from 'node:crypto';
import { request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { ROUTE_PASS_HEADER, verifyRoutePass } from '../../functions/domain/service/route-pass';
import type { Duplex } from 'node:stream';
import { rejectUpgrade, splice, upgradeHeaders, writeHead } from '../../functions/router/upgrade';
import type { ServiceReplicas } from './replicas';

export const INGRESS_PREFIX = '/s/';

export interface IngressContext {
  replicas?: ServiceReplicas;
  /** the control plane's public key, from the session; no key, no traffic */
  controlPlaneKey?: KeyObject;
  /** this node's id, from the session: a pass names the node it is good for */
  nodeId?: string;
  now: number;
}

/** Hop-by-hop headers (RFC 9110 7.6.1) plus what must never reach a replica: the pass and the caller's credentials. */
const DROPPED_REQUEST = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  // `expect: 100-continue` was answered here already; the body follows regardless
  'host', 'expect', ROUTE_PASS_HEADER, 'authorization', 'x-api-key', 'x-gpupool-token',
]);
const DROPPED_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** `headers` less the dropped names and whatever the Connection header names as hop-by-hop. */
export function forwardHeaders(headers: IncomingHttpHeaders, dropped: ReadonlySet<string>): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !dropped.has(k) && !named.has(k)) out[k] = v;
  return out;
}

/** `/s/<id>/a/b?q` → { serviceId: id, path: '/a/b?q' }; `/s/<id>` → path '/'. */
export function parseIngressUrl(url: string): { serviceId: string; path: string } | undefined {
  if (!url.startsWith(INGRESS_PREFIX)) return undefined;
  const rest = url.slice(INGRESS_PREFIX.length);
  const cut = rest.search(/[/?#]/);
  const serviceId = cut < 0 ? rest : rest.slice(0, cut);
  let path = cut < 0 ? '/' : rest.slice(cut);
  if (!path.startsWith('/')) path = `/${path}`;
  return serviceId ? { serviceId, path } : undefined;
}

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify({ type: `https://gpupool.dev/problems/${title.toLowerCase().replace(/ /g, '-')}`, title, status, detail });
  // the connection closes after a refusal: a caller without a pass cannot hold it open trickling a body
  // (service requests have no server-wide request timeout, so that uploads may stream)
  res.writeHead(status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/** Serves one request under /s/: 403 without a good pass, 404 when no replica of the service runs here, 502 when it refuses. */
export function serveIngress(req: IncomingMessage, res: ServerResponse, ctx: IngressContext): void {
  const target = parseIngressUrl(req.url ?? '');
  const pass = req.headers[ROUTE_PASS_HEADER];
  if (!target || !ctx.controlPlaneKey || !ctx.nodeId || !verifyRoutePass(ctx.controlPlaneKey, pass, target.serviceId, ctx.nodeId, ctx.now)) {
    req.resume();
    return problem(res, 403, 'Forbidden', 'a route pass from the routing tier for this service at this node is required');
  }
  const replica = ctx.replicas?.pick(target.serviceId);
  if (!replica) {
    req.resume();
    return problem(res, 404, 'Not Found', 'no replica of this service runs on this node');
  }
  // a fresh loopback connection per request: a kept-alive one the replica closed meanwhile would fail a
  // request that had nothing wrong with it
  const upstream = request({
    host: '127.0.0.1',
    port: replica.hostPort,
    method: req.method,
    path: target.path,
    headers: forwardHeaders(req.headers, DROPPED_REQUEST),
    agent: false,
  });
  upstream.once('response', (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardHeaders(answer.headers, DROPPED_RESPONSE));
    answer.pipe(res);
    answer.once('error', () => res.destroy());
    answer.once('aborted', () => res.destroy());
  });
  upstream.once('error', () => problem(res, 502, 'Bad Gateway', 'the service replica on this node did not answer'));
  // the caller went away: so does the request to the replica
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

const problemText = (status: number, title: string, detail: string) => JSON.stringify({ type: `https://gpupool.dev/problems/${title.toLowerCase().replace(/ /g, '-')}`, title, status, detail });

/**
 * An upgrade under /s/ (WebSocket): the same pass and replica rules as a request, then the handshake goes
 * to the replica; its 101 splices the two sockets until either closes, any other answer is passed back.
 */
export function upgradeIngress(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: IngressContext): void {
  const target = parseIngressUrl(req.url ?? '');
  if (!target || !ctx.controlPlaneKey || !ctx.nodeId || !verifyRoutePass(ctx.controlPlaneKey, req.headers[ROUTE_PASS_HEADER], target.serviceId, ctx.nodeId, ctx.now)) {
    return rejectUpgrade(socket, 403, problemText(403, 'Forbidden', 'a route pass from the routing tier for this service at this node is required'));
  }
  const replica = ctx.replicas?.pick(target.serviceId);
  if (!replica) return rejectUpgrade(socket, 404, problemText(404, 'Not Found', 'no replica of this service runs on this node'));
  const upstream = request({
    host: '127.0.0.1',
    port: replica.hostPort,
    method: req.method,
    path: target.path,
    headers: { ...forwardHeaders(req.headers, DROPPED_REQUEST), ...upgradeHeaders(req.headers) },
    agent: false,
  });
  upstream.once('upgrade', (answer, upSocket, upHead) => {
    writeHead(socket, 101, { ...forwardHeaders(answer.headers, DROPPED_RESPONSE), ...upgradeHeaders(answer.headers) }, answer.statusMessage);
    if (upHead.length) socket.write(upHead);
    if (head.length) upSocket.write(head);
    splice(socket, upSocket);
  });
  upstream.once('response', (answer) => {
    writeHead(socket, answer.statusCode ?? 502, { ...forwardHeaders(answer.headers, DROPPED_RESPONSE), connection: 'close' }, answer.statusMessage);
    answer.pipe(socket);
  });
  upstream.once('error', () => rejectUpgrade(socket, 502, problemText(502, 'Bad Gateway', 'the service replica on this node did not answer')));
  socket.once('close', () => upstream.destroy());
  upstream.end();
}
