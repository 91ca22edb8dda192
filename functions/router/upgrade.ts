// HTTP Upgrade (WebSocket and any other protocol a replica switches to) through the routing tier and the
// node's ingress (docs/services.md, The routing tier). An upgrade request has no ServerResponse: the answer
// is written on the raw socket, and after a 101 the two sockets are spliced until either side closes.
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { downstreamHeaders } from './forward-headers';
import { requestTo, type Upstream } from './upstream';

/** Writes a status line and headers on a raw socket (a flat [name, value, …] list or a header object). */
export function writeHead(socket: Duplex, status: number, headers: readonly string[] | Record<string, string | string[] | number | undefined>, statusMessage?: string): void {
  const lines = [`HTTP/1.1 ${status} ${statusMessage ?? STATUS_CODES[status] ?? ''}`];
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
  } else {
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
    }
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
}

/** Answers an upgrade request with a problem document and closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, body: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  writeHead(socket, status, { 'content-type': 'application/problem+json', 'content-length': String(Buffer.byteLength(body)), connection: 'close', ...headers });
  socket.end(body);
}

/** The Upgrade and Connection headers an upgrade request or a 101 answer must carry again (they are hop-by-hop). */
export function upgradeHeaders(h: IncomingHttpHeaders): Record<string, string> {
  return typeof h.upgrade === 'string' ? { connection: 'Upgrade', upgrade: h.upgrade } : {};
}

/** Pipes two sockets both ways; when either ends or fails, both are closed. */
export function splice(a: Duplex, b: Duplex): void {
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.pipe(b).on('error', close);
  b.pipe(a).on('error', close);
  a.once('error', close);
  b.once('error', close);
  a.once('close', close);
  b.once('close', close);
}

export type UpgradeOutcome = { kind: 'answered'; open: boolean } | { kind: 'refused'; why: string };

/**
 * One try of an upgrade on one replica: a 101 splices the caller's socket to the node's (open: true); any
 * other answer is passed back as it is and the connection ends; a connection that fails is "refused".
 */
export function forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, u: Upstream, path: string, timeoutMs: number): Promise<UpgradeOutcome> {
  const headers = { ...u.headers, ...upgradeHeaders(req.headers) };
  return new Promise((resolve) => {
    let settled = false;
    const done = (out: UpgradeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(out);
    };
    // an upgraded connection is never pooled: no agent
    const up = requestTo(u, path, req.method, headers, false);
    const timer = setTimeout(() => up.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })), timeoutMs);
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
