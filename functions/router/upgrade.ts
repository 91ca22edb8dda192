// HTTP Upgrade (WebSocket and any other protocol a replica switches to) through the routing tier and the
// node's ingress (docs/services.md, The routing tier). An upgrade request has no ServerResponse: the answer
// is written on the raw socket, and after a 101 the two sockets are spliced until either side closes.
import type { IncomingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

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
