// A stand-in for the control plane's HTTP API: records every call and answers from per-route responders
// that a test can replace. Answers follow the agent protocol (functions/domain/agent-protocol.ts).
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Call {
  route: Route;
  path: string;
  key: string | undefined;
  body: any;
  /** for job routes: the job id in the path */
  jobId?: string;
}
export type Route = 'register' | 'session' | 'heartbeat' | 'start' | 'logs' | 'finish' | 'checkpoint' | 'outputs';
export type Answer = { status: number; body?: unknown };
export type Responder = (call: Call) => Answer | Promise<Answer>;

export const NODE_KEY = 'nk_test_node_key';

/** A session answer that points the agent at `sqs` (heartbeats 30 s busy, 60 s idle); `extra` replaces or adds fields. */
export function sessionOn(sqs: { queueUrl: string; endpoint: string }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    nodeId: 'node-1',
    queueUrl: sqs.queueUrl,
    sqsEndpoint: sqs.endpoint,
    region: 'us-east-1',
    heartbeat: { busySeconds: 30, idleSeconds: 60 },
    stale: [],
    ...extra,
  };
}

export class FakeControlPlane {
  readonly calls: Call[] = [];
  readonly responders = new Map<Route, Responder>();
  private readonly events = new EventEmitter();
  private server?: Server;
  url = '';

  constructor(session: () => Record<string, unknown>) {
    this.events.setMaxListeners(100);
    this.responders.set('register', () => ({ status: 201, body: { node: { id: 'node-1', name: 'n' }, nodeKey: NODE_KEY } }));
    this.responders.set('session', () => ({ status: 200, body: session() }));
    this.responders.set('heartbeat', () => ({ status: 200, body: { nextHeartbeatSeconds: 30, stale: [], cancel: [] } }));
    for (const r of ['start', 'logs', 'finish'] as const) this.responders.set(r, () => ({ status: 200, body: {} }));
    // file grants: each content the agent declares may be PUT to this server (`uploads` keeps the bytes)
    this.responders.set('checkpoint', (c) => ({
      status: 200,
      body: c.body.commit ? { uploads: [], committed: true } : { uploads: c.body.files.map((f: { sha256: string }) => ({ sha256: f.sha256, url: `${this.url}/upload/${f.sha256}` })), committed: false },
    }));
    this.responders.set('outputs', (c) => ({ status: 200, body: { uploads: c.body.files.map((f: { path: string }) => ({ path: f.path, url: `${this.url}/upload/${encodeURIComponent(f.path)}` })) } }));
  }

  /** bytes PUT to the upload URLs the file grants named, by the last segment of the URL */
  readonly uploads = new Map<string, Buffer>();

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.method === 'PUT' && req.url?.startsWith('/upload/')) {
        this.uploads.set(decodeURIComponent(req.url.slice('/upload/'.length)), Buffer.concat(chunks));
        return void res.writeHead(200).end();
      }
      const call = this.parse(req.url ?? '', req.headers['x-api-key'] as string | undefined, Buffer.concat(chunks).toString());
      if (!call) return void res.writeHead(404).end();
      this.calls.push(call);
      this.events.emit('call', call);
      const answer = await this.responders.get(call.route)!(call);
      res.writeHead(answer.status, { 'content-type': answer.status < 300 ? 'application/json' : 'application/problem+json' });
      res.end(JSON.stringify(answer.body ?? (answer.status >= 300 ? { title: 'fake error', status: answer.status } : {})));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** Resolves with the first call (already made or to come) that matches. */
  waitFor(route: Route, pred: (c: Call) => boolean = () => true, ms = 10_000): Promise<Call> {
    const seen = this.calls.find((c) => c.route === route && pred(c));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.events.off('call', onCall);
        reject(new Error(`no ${route} call matched within ${ms} ms; calls: ${this.calls.map((c) => c.route).join(',')}`));
      }, ms);
      const onCall = (c: Call) => {
        if (c.route !== route || !pred(c)) return;
        clearTimeout(timer);
        this.events.off('call', onCall);
        resolve(c);
      };
      this.events.on('call', onCall);
    });
  }

  of(route: Route, attemptId?: string): Call[] {
    return this.calls.filter((c) => c.route === route && (attemptId === undefined || c.body?.attemptId === attemptId));
  }

  private parse(url: string, key: string | undefined, text: string): Call | undefined {
    const body = text ? JSON.parse(text) : undefined;
    const fixed: Record<string, Route> = { '/v1/nodes': 'register', '/v1/agent/session': 'session', '/v1/agent/heartbeat': 'heartbeat' };
    if (fixed[url]) return { route: fixed[url], path: url, key, body };
    const m = /^\/v1\/agent\/jobs\/([^/]+)\/(start|logs|finish|checkpoint|outputs)$/.exec(url);
    return m ? { route: m[2] as Route, path: url, key, body, jobId: decodeURIComponent(m[1]) } : undefined;
  }
}
