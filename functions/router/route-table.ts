// What the routing tier reads and writes, as a port, and its DynamoDB implementation. Reads are narrow
// projections (GetItem / BatchGetItem); the one write is the router's own entry in the service's `load`
// map, conditioned on the item existing, so a router never creates or revives a service.
import { BatchGetCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Caller, Job } from '../domain/model';
import type { Service } from '../domain/service/model';
import { isConditionFailure } from '../store/conditions';
import { KeysStore } from '../store/keys-store';
import type { LatLon } from './replica-order';

/** A replica that may take traffic now. */
export interface RoutableReplica {
  jobId: string;
  attemptId: string;
  nodeId: string;
  /** the node's ingress origin, e.g. `https://203.0.113.7:8443` */
  endpoint: string;
}

/** What a request for a service needs to know of it. */
export interface RouteService {
  id: string;
  accountId: string;
  status: Service['status'];
  tokenSha256: string;
  replicas: RoutableReplica[];
  /** what the autoscaler aims at: a router whose load is beyond it asks for a reconcile at once */
  scale?: { desired: number; max: number; targetInflight: number };
}

export interface RouteTable {
  /** the service and its ready replicas, or undefined when there is no such service */
  service(id: string): Promise<RouteService | undefined>;
  /** node locations by id (a node without one, or unknown, is absent) */
  locations(nodeIds: readonly string[]): Promise<Map<string, LatLon>>;
  /** the caller a raw API key stands for: the authorizer's lookup (unknown, wrong or revoked: undefined) */
  resolveKey(rawKey: string): Promise<Caller | undefined>;
  /** sets `load.<routerId>` on the service item (nothing when the service is gone) */
  writeLoad(serviceId: string, routerId: string, load: { inflight: number; at: number }): Promise<void>;
}

export interface RouteTableNames {
  services: string;
  jobs: string;
  nodes: string;
  keys: string;
}

/** A replica job takes traffic when it runs, its live attempt's readiness probe passed and it has an endpoint. */
export function routableReplica(job: Pick<Job, 'id' | 'status' | 'liveAttemptId' | 'attempts'>): RoutableReplica | undefined {
  if (job.status !== 'RUNNING' || !job.liveAttemptId) return undefined;
  const a = job.attempts?.find((x) => x.id === job.liveAttemptId);
  if (!a || a.status !== 'RUNNING' || a.ready !== true || typeof a.endpoint !== 'string' || !a.endpoint) return undefined;
  return { jobId: job.id, attemptId: a.id, nodeId: a.nodeId, endpoint: a.endpoint };
}

/** BatchGetItem takes 100 keys at most, and may hand some back unprocessed. */
async function batchGet(db: DynamoDBDocumentClient, table: string, ids: readonly string[], projection: string, names?: Record<string, string>): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = [...new Set(ids.slice(i, i + 100))].map((id) => ({ id }));
    for (let tries = 0; keys?.length && tries < 5; tries++) {
      const r = await db.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ProjectionExpression: projection, ...(names ? { ExpressionAttributeNames: names } : {}) } } }));
      out.push(...((r.Responses?.[table] ?? []) as Record<string, unknown>[]));
      keys = r.UnprocessedKeys?.[table]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return out;
}

export class DynamoRouteTable implements RouteTable {
  private readonly keys: KeysStore;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tables: RouteTableNames,
  ) {
    this.keys = new KeysStore(db, tables.keys);
  }

  async service(id: string): Promise<RouteService | undefined> {
    const r = await this.db.send(
      new GetCommand({
        TableName: this.tables.services,
        Key: { id },
        ProjectionExpression: 'id, accountId, #s, tokenSha256, replicaIds, desired, targetInflight, #r',
        ExpressionAttributeNames: { '#s': 'status', '#r': 'replicas' },
      }),
    );
    const s = r.Item as Pick<Service, 'id' | 'accountId' | 'status' | 'tokenSha256' | 'replicaIds' | 'desired' | 'targetInflight' | 'replicas'> | undefined;
    if (!s) return undefined;
    const jobs = s.replicaIds?.length
      ? ((await batchGet(this.db, this.tables.jobs, s.replicaIds, 'id, #s, liveAttemptId, attempts', { '#s': 'status' })) as unknown as Job[])
      : [];
    const replicas = jobs.map(routableReplica).filter((x): x is RoutableReplica => !!x);
    const scale = typeof s.desired === 'number' && typeof s.targetInflight === 'number' && s.replicas ? { desired: s.desired, max: s.replicas.max, targetInflight: s.targetInflight } : undefined;
    return { id: s.id, accountId: s.accountId, status: s.status, tokenSha256: s.tokenSha256, replicas, ...(scale ? { scale } : {}) };
  }

  async locations(nodeIds: readonly string[]): Promise<Map<string, LatLon>> {
    const items = nodeIds.length ? await batchGet(this.db, this.tables.nodes, nodeIds, 'id, #l', { '#l': 'location' }) : [];
    const out = new Map<string, LatLon>();
    for (const n of items as { id: string; location?: LatLon }[]) if (n.location && Number.isFinite(n.location.lat) && Number.isFinite(n.location.lon)) out.set(n.id, n.location);
    return out;
  }

  resolveKey(rawKey: string): Promise<Caller | undefined> {
    if (!rawKey || rawKey.length > 256) return Promise.resolve(undefined);
    return this.keys.resolve(rawKey);
  }

  async writeLoad(serviceId: string, routerId: string, load: { inflight: number; at: number }): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tables.services,
          Key: { id: serviceId },
          // the item always has a `load` map (created with it), so only this router's entry is set
          UpdateExpression: 'SET #load.#r = :v',
          ConditionExpression: 'attribute_exists(id) AND attribute_exists(#load)',
          ExpressionAttributeNames: { '#load': 'load', '#r': routerId },
          ExpressionAttributeValues: { ':v': load },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
  }
}
