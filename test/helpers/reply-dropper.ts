// An HTTP proxy in front of the local gateway that forwards every request and, for the requests a test
// picks, throws the answer away after the control plane has acted on it (502 to the caller), as a
// gateway timeout or a cut connection would. Used to lose the answer to an agent's /start.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReplyDropper {
  url: string;
  /** requests whose answers were thrown away: method and path */
  dropped: string[];
  close(): Promise<void>;
}

export interface ReplyDropperOptions {
  /** holds the answer back this long after the control plane acted (a slow gateway or a loaded machine) */
  delayMs?: (method: string, path: string) => number;
}

export async function startReplyDropper(target: string, drop: (method: string, path: string) => boolean, o: ReplyDropperOptions = {}): Promise<ReplyDropper> {
  const dropped: string[] = [];
  const server: Server = createServer((req, res) => {
    const delay = o.delayMs?.(req.method ?? 'GET', req.url ?? '/') ?? 0;
    void forward(req).then(
      async (answer) => {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (drop(req.method ?? 'GET', req.url ?? '/')) {
          dropped.push(`${req.method} ${req.url}`);
          res.writeHead(502, { 'content-type': 'application/json' }).end('{"title":"answer lost on the way back"}');
          return;
        }
        res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body);
      },
      () => res.writeHead(502).end(),
    );
  });
  async function forward(req: IncomingMessage): Promise<{ status: number; type: string; body: Buffer }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
    const r = await fetch(target + req.url, { method: req.method, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
    return { status: r.status, type: r.headers.get('content-type') ?? 'application/json', body: Buffer.from(await r.arrayBuffer()) };
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropped,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
