// A minimal WebSocket client for tests (RFC 6455: the handshake, short masked text frames out, short
// unmasked text frames in), over node's http client so a test can send any header: the routing tier takes
// the service token in a header, which the WebSocket API of browsers and undici cannot set.
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Duplex } from 'node:stream';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const wsAccept = (key: string) => createHash('sha1').update(key + WS_GUID).digest('base64');

export type WsOpen = { ok: true; status: 101; socket: Duplex; acceptOk: boolean } | { ok: false; status: number; body: string };

/** Opens `url` as a WebSocket with `headers`: 101 with the socket, or the refusal's status and body. */
export function wsOpen(url: string, headers: Record<string, string> = {}): Promise<WsOpen> {
  const u = new URL(url);
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': key, ...headers },
    });
    req.on('upgrade', (res, socket) => resolve({ ok: true, status: 101, socket, acceptOk: res.headers['sec-websocket-accept'] === wsAccept(key) }));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ ok: false, status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends one masked text frame (under 126 bytes). */
export function wsSend(socket: Duplex, text: string): void {
  const data = Buffer.from(text);
  const mask = randomBytes(4);
  socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | data.length]), mask, Buffer.from(data.map((b, i) => b ^ mask[i % 4]))]));
}

/** The next unmasked text frame's text (under 126 bytes). */
export function wsReceive(socket: Duplex, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no WebSocket frame in time')), timeoutMs);
    socket.once('data', (buf: Buffer) => {
      clearTimeout(t);
      resolve(buf.subarray(2, 2 + (buf[1] & 0x7f)).toString());
    });
  });
}
