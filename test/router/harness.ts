// The routing tier on DynamoDB Local with real HTTP replicas: tiny node http servers standing in for nodes'
// ingress. Each checks the route pass it gets (verifyRoutePass for its own node id) and records what came.
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keyPairFromSecret } from '../../functions/domain/checker/signing';
import { ROUTE_PASS_HEADER, verifyRoutePass } from '../../functions/domain/service/route-pass';
import { makeDocClient } from '../../functions/store/clients';
import { KeysStore } from '../../functions/store/keys-store';
import { DynamoRouteTable } from '../../functions/router/route-table';
import { createServiceRouter, type ServiceRouter, type ServiceRouterOptions } from '../../functions/router/service-router';
import { startEngines, type Engines } from '../helpers/engines';

export const KEYS = keyPairFromSecret('router-test-secret-0123456789abcdef0123456789');

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  passOk: boolean;
}

export interface Replica {
  nodeId: string;
  url: string;
  seen: Seen[];
  /** answers to this replica's requests; default: 200 JSON {node, url} */
  answer: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;
  stop(): Promise<void>;
}

export async function startReplica(serviceId: string, nodeId: string): Promise<Replica> {
  const seen: Seen[] = [];
  const r: Replica = {
    nodeId,
    url: '',
    seen,
    answer: (_req, res, s) => {
      const body = JSON.stringify({ node: nodeId, url: s.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    },
    stop: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    // the node's ingress: a pass signed for exactly this service and this node, unexpired
    const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, passOk: verifyRoutePass(KEYS.publicKey, req.headers[ROUTE_PASS_HEADER], serviceId, nodeId, Date.now()) };
    seen.push(s);
    if (!s.passOk) {
      res.writeHead(403).end();
      return;
    }
    r.answer(req, res, s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let stopped = false;
  r.stop = () =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve();
      stopped = true;
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return r;
}

export interface Harness {
  engines: Engines;
  db: DynamoDBDocumentClient;
  keys: KeysStore;
  router: ServiceRouter;
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startHarness(o: Partial<ServiceRouterOptions> = {}): Promise<Harness> {
  const engines = await startEngines();
  const db = makeDocClient(engines.ddb);
  const t = engines.tableNames;
  const router = createServiceRouter({
    table: new DynamoRouteTable(db, { services: t.services, jobs: t.jobs, nodes: t.nodes, keys: t.keys }),
    signingKey: KEYS.privateKey,
    routerId: 'r1',
    allowAddresses: ['loopback'],
    loadIntervalMs: 0,
    log: () => undefined,
    ...o,
  });
  const server = http.createServer((req, res) => router.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    engines,
    db,
    keys: new KeysStore(db, t.keys),
    router,
    url: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await router.close();
      await engines.stop();
    },
  };
}

export const newId = (p: string) => `${p}${randomBytes(6).toString('hex')}`;

export interface ServiceFixture {
  id: string;
  accountId: string;
  token: string;
}

/** A service item with its replica jobs and their nodes, written as the control plane keeps them. */
export async function putService(
  h: Harness,
  o: {
    accountId: string;
    replicas: { replica?: Replica; nodeId?: string; endpoint?: string; ready?: boolean; status?: string; location?: { lat: number; lon: number } }[];
    status?: string;
    id?: string;
    /** the autoscaler's fields: desired, replicas.max, targetInflight */
    scale?: { desired: number; max: number; targetInflight: number };
  },
): Promise<ServiceFixture> {
  const t = h.engines.tableNames;
  const id = o.id ?? newId('svc');
  const token = randomBytes(24).toString('base64url');
  const replicaIds: string[] = [];
  for (const [i, r] of o.replicas.entries()) {
    const jobId = `${id}-s${i}`;
    const nodeId = r.replica?.nodeId ?? r.nodeId ?? newId('n');
    replicaIds.push(jobId);
    await h.db.send(
      new PutCommand({
        TableName: t.jobs,
        Item: {
          id: jobId,
          accountId: o.accountId,
          status: r.status ?? 'RUNNING',
          liveAttemptId: `${jobId}-a0`,
          attempts: [{ id: `${jobId}-a0`, n: 0, nodeId, status: 'RUNNING', assignedAt: 1, pricePerGpuHour: 1, ready: r.ready ?? true, endpoint: r.endpoint ?? r.replica?.url }],
          service: { id, generation: 1, port: 8000, readinessPath: '/health' },
          createdAt: 1,
          version: 1,
        },
      }),
    );
    await h.db.send(new PutCommand({ TableName: t.nodes, Item: { id: nodeId, providerId: 'p', status: 'ONLINE', ...(r.location ? { location: r.location } : {}) } }));
  }
  await h.db.send(
    new PutCommand({
      TableName: t.services,
      Item: {
        id,
        accountId: o.accountId,
        name: 'svc',
        status: o.status ?? 'RUNNING',
        replicaIds,
        tokenSha256: createHash('sha256').update(token).digest('hex'),
        load: {},
        ...(o.scale ? { desired: o.scale.desired, targetInflight: o.scale.targetInflight, replicas: { min: 1, max: o.scale.max } } : {}),
        createdAt: 1,
        updatedAt: 1,
        version: 1,
      },
    }),
  );
  return { id, accountId: o.accountId, token };
}

export async function serviceItem(h: Harness, id: string): Promise<Record<string, unknown> | undefined> {
  return (await h.db.send(new GetCommand({ TableName: h.engines.tableNames.services, Key: { id } }))).Item;
}

/** One request with a raw path (no URL normalization on the way), body read in full. */
export function request(h: Pick<Harness, 'port'>, o: { path: string; method?: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: h.port, path: o.path, method: o.method ?? 'GET', headers: o.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
