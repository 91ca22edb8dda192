// Checker results (table `scores`: PK nodeId, SK at, TTL expiresAt) and the checker's own reads and
// writes of nodes. One table holds five kinds of item, told apart by the partition key:
//   <nodeId>             probe and canary results of a node, SK = epoch ms          (the scores API reads these)
//   rewards#<nodeId>     epoch settlements (SK = epoch start ms) and quarantine slashes (SK = odd epoch ms)
//   canary#<shard>       canary jobs waiting to be judged, SK = submit time           (one partition per shard)
//   verify#<group>       a replicated job's reported results (SK = replica index + 1) and its verdict (SK = 0):
//                        functions/store/verification-store.ts
// Node listing uses the sparse `liveness` index: it holds exactly the nodes that must heartbeat (ONLINE,
// DEGRADED, DRAINING), which are the nodes worth probing, spread over SHARDS partitions; a scan would read
// every node ever registered, OFFLINE and DEREGISTERED ones included, on every run.
import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProbeCounters } from '../domain/checker/reputation';
import { fromItem as nodeFromItem, type NodeItem } from './nodes-store';
import { isConditionFailure } from './conditions';

/** probe and canary results are kept this long (the TTL deletes them) */
export const SCORE_RETENTION_S = 30 * 24 * 3600;
/** settlements wait for the ledger this long */
export const REWARD_RETENTION_S = 400 * 24 * 3600;

export interface ProbeScore {
  nodeId: string;
  at: number;
  kind: 'probe';
  rttMs: number;
  ok: boolean;
  specMatch: boolean;
  challengeOk: boolean;
  reason: string;
  benchFlag?: string;
  expiresAt: number;
}

export interface CanaryScore {
  nodeId: string;
  at: number;
  kind: 'canary';
  jobId: string;
  ok: boolean;
  reason: string;
  expiresAt: number;
}
/** a replicated job's verdict as it concerns this node (functions/usecases/verification.ts); jobId = the group */
export interface VerificationScore {
  nodeId: string;
  at: number;
  kind: 'verification';
  jobId: string;
  ok: boolean;
  reason: string;
  expiresAt: number;
}
export type ScoreItem = ProbeScore | CanaryScore | VerificationScore;

export interface PendingCanary {
  shard: number;
  at: number;
  jobId: string;
  /** the node the canary is pinned to */
  target: string;
  /** the one line the job must print */
  expected: string;
}

export interface RewardItem {
  nodeId: string;
  providerId: string;
  kind: 'epoch' | 'slash';
  /** epoch start (epoch items) or the quarantine time (slash items), epoch ms */
  at: number;
  epoch?: number;
  okProbes?: number;
  failedProbes?: number;
  healthyGpuSeconds?: number;
  /** micro-credits */
  reward: number;
  penalty: number;
  /** share of the provider's stake to slash (slash items) */
  slashFraction?: number;
  /** micro-credits the ledger slashed, and how much of it went back to harmed consumers (slash items) */
  slashed?: number;
  refunded?: number;
  evidence?: string;
  /** what the ledger posts this under, once: `epoch/<n>/node/<id>/reward` */
  idempotencyKey: string;
  posted: boolean;
}

/** The fields of a result that uptime and latency figures need. */
export type WindowRow = Pick<ScoreItem, 'at' | 'kind' | 'ok'> & { rttMs?: number };

/** The checker's fields on a node. */
export interface NodeCheckFields {
  reputation: number;
  probe: ProbeCounters;
}

/** What the checker and the scores API need from storage; the benchmark runs against an in-memory one. */
export interface ScoresPort {
  watchedNodes(shard: number): Promise<NodeItem[]>;
  /** reputation and counters, if the node is still at `version`; false when it moved */
  recordNodeCheck(nodeId: string, version: number, f: NodeCheckFields): Promise<boolean>;
  /**
   * Reputation alone, from `from` to `to`, conditioned on the reputation itself and leaving the node's
   * version alone (the version fences the reaper's re-placement); false when it moved or the node is gone.
   */
  nudgeReputation(nodeId: string, from: number, to: number): Promise<boolean>;
  putScore(item: ScoreItem): Promise<void>;
  /** false when this settlement was already written (idempotent per node and epoch) */
  putReward(item: RewardItem): Promise<boolean>;
  addPendingCanary(c: PendingCanary): Promise<void>;
  pendingCanaries(shard: number): Promise<PendingCanary[]>;
  removePendingCanary(c: Pick<PendingCanary, 'shard' | 'at'>): Promise<void>;
  /** a node's results with at > since, oldest first */
  list(nodeId: string, since: number, limit: number): Promise<ScoreItem[]>;
  /** the fields the uptime and latency figures need, for every result with at > since */
  window(nodeId: string, since: number): Promise<WindowRow[]>;
  rewards(nodeId: string, limit: number): Promise<RewardItem[]>;
}

export class ScoresStore implements ScoresPort {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly nodesTable: string,
  ) {}

  async watchedNodes(shard: number): Promise<NodeItem[]> {
    const out: NodeItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(
        new QueryCommand({
          TableName: this.nodesTable,
          IndexName: 'liveness',
          KeyConditionExpression: 'livenessShard = :s',
          ExpressionAttributeValues: { ':s': `l#${shard}` },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of r.Items ?? []) out.push(nodeFromItem(item)!);
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async recordNodeCheck(nodeId: string, version: number, f: NodeCheckFields): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.nodesTable,
          Key: { id: nodeId },
          // the version moves too, so a concurrent read-modify-write of the node (updateNode) retries
          // instead of putting back the reputation it read
          UpdateExpression: 'SET reputation = :r, probe = :p, version = :next',
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':r': f.reputation, ':p': f.probe, ':v': version, ':next': version + 1 },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async nudgeReputation(nodeId: string, from: number, to: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.nodesTable,
          Key: { id: nodeId },
          UpdateExpression: 'SET reputation = :to',
          ConditionExpression: 'reputation = :from',
          ExpressionAttributeValues: { ':from': from, ':to': to },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async putScore(item: ScoreItem): Promise<void> {
    await this.putUnique(item as unknown as Record<string, unknown> & { at: number });
  }

  async putReward(item: RewardItem): Promise<boolean> {
    const row = { ...item, nodeId: `rewards#${item.nodeId}`, node: item.nodeId, expiresAt: Math.floor(item.at / 1000) + REWARD_RETENTION_S };
    if (item.kind === 'slash') {
      await this.putUnique(row);
      return true;
    }
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: row, ConditionExpression: 'attribute_not_exists(#at)', ExpressionAttributeNames: { '#at': 'at' } }));
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async addPendingCanary(c: PendingCanary): Promise<void> {
    await this.putUnique({ nodeId: `canary#${c.shard}`, at: c.at, jobId: c.jobId, target: c.target, expected: c.expected, expiresAt: Math.floor(c.at / 1000) + 7 * 24 * 3600 });
  }

  async pendingCanaries(shard: number): Promise<PendingCanary[]> {
    const r = await this.db.send(
      new QueryCommand({ TableName: this.table, KeyConditionExpression: 'nodeId = :p', ExpressionAttributeValues: { ':p': `canary#${shard}` }, Limit: 200 }),
    );
    return (r.Items ?? []).map((i) => ({ shard, at: i.at as number, jobId: i.jobId as string, target: i.target as string, expected: i.expected as string }));
  }

  async removePendingCanary(c: Pick<PendingCanary, 'shard' | 'at'>): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { nodeId: `canary#${c.shard}`, at: c.at } }));
  }

  async list(nodeId: string, since: number, limit: number): Promise<ScoreItem[]> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'nodeId = :n AND #at > :since',
        ExpressionAttributeNames: { '#at': 'at' },
        ExpressionAttributeValues: { ':n': nodeId, ':since': since },
        Limit: limit,
      }),
    );
    return (r.Items ?? []) as ScoreItem[];
  }

  async window(nodeId: string, since: number): Promise<WindowRow[]> {
    const out: WindowRow[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'nodeId = :n AND #at > :since',
          ProjectionExpression: '#at, kind, ok, rttMs',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':n': nodeId, ':since': since },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...((r.Items ?? []) as typeof out));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async rewards(nodeId: string, limit: number): Promise<RewardItem[]> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'nodeId = :n',
        ExpressionAttributeValues: { ':n': `rewards#${nodeId}` },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map(({ nodeId: _pk, node, expiresAt: _e, ...rest }) => ({ ...rest, nodeId: node }) as RewardItem);
  }

  /** Puts an item whose sort key is a time; another item at the same ms moves it on by one ms. */
  private async putUnique(item: Record<string, unknown> & { at: number }): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        await this.db.send(
          new PutCommand({ TableName: this.table, Item: { ...item, at: item.at + tries }, ConditionExpression: 'attribute_not_exists(#at)', ExpressionAttributeNames: { '#at': 'at' } }),
        );
        return;
      } catch (e) {
        if (!isConditionFailure(e) || tries >= 5) throw e;
      }
    }
  }
}
