// Nodes. Index attributes are derived from the node's state on every write:
// - availKey/availAnyKey (sparse indexes `available`, `availableAny`): present only while the node is
//   schedulable with free GPUs, copied from availBase/availAnyBase so an UpdateExpression can set them;
// - livenessShard/heartbeatDeadline (`liveness`): present while the node must heartbeat.
// Capacity changes are conditional on the exact freeGpus read, so the sparse index never lies for long
// and no two claims can take the same GPU.
import { GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { Node, NodeStatus } from '../domain/model';
import { heartbeatDeadline } from '../domain/node/liveness';
import { isSchedulable, isWatched, SCHEDULABLE } from '../domain/node/status';
import { removalDueAt, type Removal } from '../domain/node/removal';
import { decodeCursor, encodeCursor } from './cursor';
import { allShards, queryPartitions, shardOf } from './shard';
import { isConditionFailure } from './conditions';

type Update = NonNullable<TransactWriteItem['Update']>;
export type NodeItem = Node & { version: number };

function derived(n: Node) {
  const shard = shardOf(n.id);
  const availBase = `${n.gpuModel}#${shard}`;
  const availAnyBase = `${shard}`;
  const avail = isSchedulable(n) && n.freeGpus > 0;
  return {
    availBase,
    availAnyBase,
    ...(avail ? { availKey: availBase, availAnyKey: availAnyBase } : {}),
    ...reaperDue(n, shard),
  };
}

/**
 * The `liveness` index holds every node the reaper must look at, keyed by when: a watched node at its
 * heartbeat deadline, a node with removal steps left at when the next one is due (docs/failure-handling.md).
 */
function reaperDue(n: Node, shard = shardOf(n.id)): { livenessShard: string; heartbeatDeadline: number } | Record<string, never> {
  const heartbeat = isWatched(n) && n.lastSeenAt ? heartbeatDeadline(n) : undefined;
  const removal = removalDueAt(n.removal);
  const due = heartbeat === undefined ? removal : removal === undefined ? heartbeat : Math.min(heartbeat, removal);
  return due === undefined ? {} : { livenessShard: `l#${shard}`, heartbeatDeadline: due };
}

const INTERNAL = ['availBase', 'availAnyBase', 'availKey', 'availAnyKey', 'livenessShard', 'heartbeatDeadline'];
/** A stored node item without its derived index attributes. */
export function fromItem(item: Record<string, unknown> | undefined): NodeItem | undefined {
  if (!item) return undefined;
  const n = { ...item };
  for (const k of INTERNAL) delete n[k];
  return n as unknown as NodeItem;
}

export class NodesStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(node: Node): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { ...node, ...derived(node), version: 0 }, ConditionExpression: 'attribute_not_exists(id)' }),
    );
  }

  async get(id: string): Promise<NodeItem | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: true }));
    return fromItem(r.Item);
  }

  /** A transaction item setting the stake locked for the node, under its version (the ledger moves the credits). */
  stakeLockItem(node: Pick<NodeItem, 'id' | 'version'>, stakeLocked: number): TransactWriteItem {
    return {
      Update: {
        TableName: this.table,
        Key: { id: { S: node.id } },
        UpdateExpression: 'SET stakeLocked = :s, version = :next',
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':s': { N: String(stakeLocked) }, ':next': { N: String(node.version + 1) }, ':v': { N: String(node.version) } },
      },
    };
  }

  /**
   * Records a removal's progress on the node as read, under its version, without bumping it: the version
   * fences the re-placement of the node's work, and progress is no change of the node's state. A writer
   * that read the node before this and saves after it puts steps back; they are idempotent and redone.
   * False when the node changed since it was read.
   */
  async setRemoval(before: NodeItem, removal: Removal): Promise<boolean> {
    const due = reaperDue({ ...before, removal });
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id: before.id },
          UpdateExpression: 'SET removal = :r' + (due.heartbeatDeadline === undefined ? ' REMOVE livenessShard, heartbeatDeadline' : ', livenessShard = :ls, heartbeatDeadline = :d'),
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: {
            ':r': removal,
            ':v': before.version,
            ...(due.heartbeatDeadline === undefined ? {} : { ':ls': due.livenessShard, ':d': due.heartbeatDeadline }),
          },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Replaces the node as read, under its version: for status, price and label changes. */
  async save(before: NodeItem, next: Node): Promise<NodeItem> {
    const item = { ...next, ...derived(next), version: before.version + 1 };
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: item,
        // freeGpus is also guarded: capacity moves without a version bump
        ConditionExpression: 'version = :v AND freeGpus = :f',
        ExpressionAttributeValues: { ':v': before.version, ':f': before.freeGpus },
      }),
    );
    return fromItem(item)!;
  }

  async listByProvider(providerId: string, limit: number, cursor?: string): Promise<{ items: NodeItem[]; nextCursor?: string }> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'byProvider',
        KeyConditionExpression: 'providerId = :p',
        ExpressionAttributeValues: { ':p': providerId },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, { providerId }, { id: 'string', providerId: 'string', createdAt: 'number' }),
      }),
    );
    return { items: (r.Items ?? []).map((i) => fromItem(i)!), nextCursor: encodeCursor(r.LastEvaluatedKey) };
  }

  /**
   * Every node, for admins: a paginated Scan (`limit` items read per page, cursor = the last node id).
   * Pages come in the table's hash order, not newest first; an admin tool, not a hot path (docs/api.md).
   */
  async listAll(limit: number, cursor?: string): Promise<{ items: NodeItem[]; nextCursor?: string }> {
    const r = await this.db.send(
      new ScanCommand({ TableName: this.table, Limit: limit, ExclusiveStartKey: decodeCursor(cursor, {}, { id: 'string' }) }),
    );
    return { items: (r.Items ?? []).map((i) => fromItem(i)!), nextCursor: encodeCursor(r.LastEvaluatedKey) };
  }

  /** Cheapest schedulable nodes with free GPUs, `perShard` from each shard of each model (or of all). */
  async available(models: string[] | undefined, perShard: number, shards: readonly number[] = allShards()): Promise<NodeItem[]> {
    const [index, partitionAttr, partitions] = models
      ? ['available', 'availKey', models.flatMap((m) => shards.map((s) => `${m}#${s}`))]
      : ['availableAny', 'availAnyKey', shards.map((s) => `${s}`)];
    const items = await queryPartitions(this.db, { table: this.table, index, partitionAttr, partitions, limit: perShard });
    return items.map((i) => fromItem(i)!);
  }

  /** Watched nodes whose heartbeat deadline passed, and nodes whose next removal step is due. */
  async overdue(now: number, limit = 100): Promise<NodeItem[]> {
    const items = await queryPartitions(this.db, {
      table: this.table,
      index: 'liveness',
      partitionAttr: 'livenessShard',
      partitions: allShards().map((s) => `l#${s}`),
      sortBelow: { attr: 'heartbeatDeadline', value: now },
      limit,
    });
    return items.map((i) => fromItem(i)!);
  }

  /** Records a heartbeat: only for a node that is still watched. Returns undefined if it is not. */
  async touch(node: NodeItem, now: number, heartbeatSeconds: number, telemetry?: unknown, images?: string[]): Promise<boolean> {
    if (!isWatched(node)) return false;
    const shard = shardOf(node.id);
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id: node.id },
          UpdateExpression: 'SET lastSeenAt = :now, heartbeatSeconds = :hs, heartbeatDeadline = :d, livenessShard = :ls' + (telemetry === undefined ? '' : ', telemetry = :t') + (images === undefined ? '' : ', images = :img'),
          ConditionExpression: '#s IN (:a, :b, :c)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':now': now,
            ':hs': heartbeatSeconds,
            ':d': heartbeatDeadline({ lastSeenAt: now, heartbeatSeconds })!,
            ':ls': `l#${shard}`,
            ':a': 'ONLINE',
            ':b': 'DEGRADED',
            ':c': 'DRAINING',
            ...(telemetry === undefined ? {} : { ':t': telemetry }),
            ...(images === undefined ? {} : { ':img': images }),
          },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Transaction item taking `gpus` from a node read with `freeGpus`; fails if anything moved since. */
  claimItem(node: Pick<Node, 'id' | 'freeGpus'>, gpus: number): Update {
    const emptied = node.freeGpus - gpus === 0;
    return {
      TableName: this.table,
      Key: { id: { S: node.id } },
      UpdateExpression: 'SET freeGpus = freeGpus - :g' + (emptied ? ' REMOVE availKey, availAnyKey' : ''),
      ConditionExpression: 'freeGpus = :f AND #s IN (:on, :deg)',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':g': { N: String(gpus) }, ':f': { N: String(node.freeGpus) }, ':on': { S: SCHEDULABLE[0] }, ':deg': { S: SCHEDULABLE[1] } },
    };
  }

  /**
   * Transaction item giving `gpus` back. Whether the node re-enters the available index depends on its
   * status, which the condition pins; if the status moved, the caller re-reads and retries.
   */
  /** `earned`: what the settlement in the same transaction pays the provider for this node (a display counter) */
  /** Adds to the node's `earned` counter alone (a service replica's renewal: renewal.ts); the node must exist. */
  earnedItem(nodeId: string, amount: number): Update {
    return {
      TableName: this.table,
      Key: { id: { S: nodeId } },
      UpdateExpression: 'ADD earned :e',
      ConditionExpression: 'attribute_exists(id)',
      ExpressionAttributeValues: { ':e': { N: String(amount) } },
    };
  }

  releaseItem(node: Pick<Node, 'id' | 'status' | 'totalGpus'>, gpus: number, fenceVersion?: number, earned = 0): Update {
    const schedulable = isSchedulable(node);
    return {
      TableName: this.table,
      Key: { id: { S: node.id } },
      UpdateExpression:
        'SET freeGpus = freeGpus + :g' + (schedulable ? ', availKey = availBase, availAnyKey = availAnyBase' : '') + (earned > 0 ? ' ADD earned :e' : ''),
      // with a fence, the release (and so the whole transition) applies only if the node has not moved
      // since it was written off: a node that opened a new session keeps its work
      ConditionExpression: '#s = :s AND freeGpus <= :max' + (fenceVersion === undefined ? '' : ' AND version = :v'),
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: {
        ':g': { N: String(gpus) },
        ':s': { S: node.status },
        ':max': { N: String(node.totalGpus - gpus) },
        ...(fenceVersion === undefined ? {} : { ':v': { N: String(fenceVersion) } }),
        ...(earned > 0 ? { ':e': { N: String(earned) } } : {}),
      },
    };
  }
}

export type { NodeStatus };
