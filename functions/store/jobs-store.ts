// Jobs, with their attempts inside the job item: every job transition is one conditional write of one
// item (`version` = the version read), joined in a transaction with the node capacity it moves.
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { TransactionCanceledException, TransactWriteItemsCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { conflict } from '../domain/errors';
import { jobDeadline, type DeadlineConfig } from '../domain/job/deadlines';
import type { Transition } from '../domain/job/transitions';
import type { Posting } from '../domain/ledger/model';
import type { Job, Node } from '../domain/model';
import { decodeCursor, encodeCursor } from './cursor';
import { InsufficientFundsError, type LedgerStore } from './ledger-store';
import type { NodesStore } from './nodes-store';
import { allShards, queryPartitions, shardOf } from './shard';

const INTERNAL = ['queueShard', 'queueOrder', 'activeShard', 'deadlineAt', 'deadlineKind', 'liveNodeId'];

/** Raised when a node's capacity moved under a transition: re-read the node and try again (or another). */
export class CapacityRaceError extends Error {
  override name = 'CapacityRaceError';
}

export class JobsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly nodes: NodesStore,
    private readonly deadlines: DeadlineConfig,
    private readonly ledger: LedgerStore,
  ) {}

  private toItem(job: Job) {
    const shard = shardOf(job.id);
    const deadline = jobDeadline(job, this.deadlines);
    // priority first (higher earlier), then age; strings sort lexicographically
    const order = `${String(100 - job.priority).padStart(3, '0')}#${String(job.createdAt).padStart(15, '0')}#${job.id}`;
    return {
      ...job,
      ...(job.status === 'QUEUED' ? { queueShard: `q#${shard}`, queueOrder: order } : {}),
      ...(deadline ? { activeShard: `a#${shard}`, deadlineAt: deadline.at, deadlineKind: deadline.kind } : {}),
      ...(job.liveAttemptId && job.nodeId ? { liveNodeId: job.nodeId } : {}),
    };
  }

  private fromItem(item: Record<string, unknown> | undefined): Job | undefined {
    if (!item) return undefined;
    const j = { ...item };
    for (const k of INTERNAL) delete j[k];
    return j as unknown as Job;
  }

  async create(job: Job): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: this.toItem(job), ConditionExpression: 'attribute_not_exists(id)' }));
  }

  async get(id: string): Promise<Job | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: true }));
    return this.fromItem(r.Item);
  }

  async listByAccount(accountId: string, limit: number, cursor?: string): Promise<{ items: Job[]; nextCursor?: string }> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'byAccount',
        KeyConditionExpression: 'accountId = :a',
        ExpressionAttributeValues: { ':a': accountId },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, { accountId }, { id: 'string', accountId: 'string', createdAt: 'number' }),
      }),
    );
    return { items: (r.Items ?? []).map((i) => this.fromItem(i)!), nextCursor: encodeCursor(r.LastEvaluatedKey) };
  }

  /**
   * Writes `t.job` if the job is still at `before.version`, together with the GPU claims and releases
   * of the transition. `nodes` holds the node reads the capacity items are conditioned on.
   * `postings` (escrow holds, settlements) join the same transaction.
   * Throws 409 when the job moved, CapacityRaceError when a node moved, InsufficientFundsError when the
   * consumer cannot cover a hold.
   */
  async apply(
    before: Job,
    t: Transition,
    nodes: Record<string, Pick<Node, 'id' | 'status' | 'freeGpus' | 'totalGpus'>>,
    fence?: { nodeId: string; version: number },
    postings: readonly Posting[] = [],
  ): Promise<Job> {
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.table,
          Item: marshall(this.toItem(t.job), { removeUndefinedValues: true }),
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': { N: String(before.version) } },
        },
      },
    ];
    for (const e of t.effects) {
      if (e.kind !== 'claimGpus' && e.kind !== 'releaseGpus') continue;
      const node = nodes[e.nodeId];
      if (e.kind === 'claimGpus') items.push({ Update: this.nodes.claimItem(node, e.gpus) });
      if (e.kind === 'releaseGpus' && node) items.push({ Update: this.nodes.releaseItem(node, e.gpus, fence?.nodeId === e.nodeId ? fence.version : undefined) });
    }
    const nodeItems = items.length;
    const ledger = this.ledger.items(postings);
    items.push(...ledger.items);
    if (items.length === 1) {
      // one item: a conditional put does it, at half a transaction's write cost
      try {
        await this.db.send(
          new PutCommand({ TableName: this.table, Item: this.toItem(t.job), ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': before.version } }),
        );
        return t.job;
      } catch (e) {
        if ((e as Error).name === 'ConditionalCheckFailedException') throw conflict('job changed concurrently');
        throw e;
      }
    }
    try {
      await this.db.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return t.job;
    } catch (e) {
      if (e instanceof TransactionCanceledException || (e as Error).name === 'TransactionCanceledException') {
        const reasons = (e as TransactionCanceledException).CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') throw conflict('job changed concurrently');
        if (reasons.slice(1, nodeItems).some((r) => r.Code === 'ConditionalCheckFailed')) throw new CapacityRaceError('node capacity moved');
        const short = reasons.findIndex((r, i) => i >= nodeItems && r.Code === 'ConditionalCheckFailed' && ledger.kinds[i - nodeItems] === 'account');
        if (short >= 0) throw new InsufficientFundsError(items[short].Update!.Key!.id.S!);
        // an entry already there: this transition's posting was written before, so the job moved too
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) throw conflict('posting already written');
      }
      throw e;
    }
  }

  /** Oldest, highest-priority QUEUED jobs, `perShard` from each shard. */
  async queued(perShard: number): Promise<Job[]> {
    const items = await queryPartitions(this.db, {
      table: this.table,
      index: 'queued',
      partitionAttr: 'queueShard',
      partitions: allShards().map((s) => `q#${s}`),
      limit: perShard,
    });
    return items.map((i) => this.fromItem(i)!);
  }

  /** Live jobs whose deadline (dispatch ack, max duration, cancel grace) passed. */
  async overdue(now: number, perShard = 100): Promise<Job[]> {
    const items = await queryPartitions(this.db, {
      table: this.table,
      index: 'active',
      partitionAttr: 'activeShard',
      partitions: allShards().map((s) => `a#${s}`),
      sortBelow: { attr: 'deadlineAt', value: now },
      limit: perShard,
    });
    return items.map((i) => this.fromItem(i)!);
  }

  /** Jobs with a live attempt on `nodeId` (eventually consistent index: callers re-read each job). */
  async liveOnNode(nodeId: string): Promise<Job[]> {
    const r = await this.db.send(
      new QueryCommand({ TableName: this.table, IndexName: 'liveByNode', KeyConditionExpression: 'liveNodeId = :n', ExpressionAttributeValues: { ':n': nodeId } }),
    );
    return (r.Items ?? []).map((i) => this.fromItem(i)!);
  }
}
