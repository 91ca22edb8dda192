// A stand-in for EC2's instance metadata service, IMDSv2 only: PUT /latest/api/token (needs the TTL
// header) hands out a token; GET /latest/meta-data/spot/instance-action needs a live token and answers
// 404 until a test posts a notice. Listens on a free loopback port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class FakeImds {
  readonly requests: { method: string; path: string; token?: string; ttl?: string }[] = [];
  notice?: { action: string; time: string };
  /** when set, every request gets this status (an IMDS that is down or refuses) */
  failWith?: number;
  private tokens = new Set<string>();
  private n = 0;
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const token = req.headers['x-aws-ec2-metadata-token'] as string | undefined;
      const ttl = req.headers['x-aws-ec2-metadata-token-ttl-seconds'] as string | undefined;
      this.requests.push({ method: req.method ?? '', path: req.url ?? '', token, ttl });
      const send = (status: number, body = '') => res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
      if (this.failWith) return send(this.failWith);
      if (req.method === 'PUT' && req.url === '/latest/api/token') {
        if (!ttl || Number(ttl) < 1 || Number(ttl) > 21_600) return send(400);
        const t = `token-${++this.n}`;
        this.tokens.add(t);
        return send(200, t);
      }
      if (req.method === 'GET' && req.url === '/latest/meta-data/spot/instance-action') {
        if (!token || !this.tokens.has(token)) return send(401);
        return this.notice ? send(200, JSON.stringify(this.notice)) : send(404, '<?xml version="1.0"?><title>404 - Not Found</title>');
      }
      send(404);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this;
  }

  /** Tokens handed out so far stop working (as after their TTL). */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** Resolves once a request matching `pred` has come in. */
  async waitFor(pred: (r: FakeImds['requests'][number]) => boolean, ms = 10_000): Promise<void> {
    const until = Date.now() + ms;
    while (!this.requests.some(pred)) {
      if (Date.now() > until) throw new Error(`fake IMDS: no matching request within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
