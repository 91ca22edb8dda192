// Jobs, with their attempts inside the job item: every job transition is one conditional write of one
// item (`version` = the version read), joined in a transaction with the node capacity it moves.
// Two kinds of helper items share the table (ids with `#`, which no job id has; no accountId, so job
// lists never show them): a gang's rank items (`<jobId>#rank<k>`, one per live rank, so the liveByNode
// index finds every node of a gang) and the queue's account markers (queue-accounts.ts).
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ConditionalCheckFailedException, TransactionCanceledException, TransactWriteItemsCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { refusedBy, usageDelta, type AccountItem, type UsageDelta, type UsageGuard } from '../domain/account-limits';
import { balanceDeltas } from '../domain/ledger/postings';
import type { Bucket } from '../domain/ledger/model';
import { AccountLimitError, mergeUpdates, StaleAccountError, usageUpdate } from './account-usage';
import { conflict, JobChangedError } from '../domain/errors';
import { jobDeadline, type DeadlineConfig } from '../domain/job/deadlines';
import type { Transition } from '../domain/job/transitions';
import type { Posting } from '../domain/ledger/model';
import type { Job, Node } from '../domain/model';
import { isConditionFailure } from './conditions';
import { pageByAccount } from './query-all';
import { InsufficientFundsError, type LedgerStore } from './ledger-store';
import type { NodesStore } from './nodes-store';
import { QueueAccounts } from './queue-accounts';
import { rankItems, rankLookup } from './rank-items';
import { allShards, queryPartitions, shardOf } from './shard';
import { DependentsStore, HELD_PREFIX } from './dependents-store';
import { StartStatsStore } from './start-stats-store';

/** DynamoDB's most operations in one transaction */
const MAX_TRANSACT_ITEMS = 100;

const INTERNAL = ['queueShard', 'queueOrder', 'queueAccount', 'activeShard', 'deadlineAt', 'deadlineKind', 'liveNodeId'];

/** Raised when a node's capacity moved under a transition: re-read the node and try again (or another). */
export class CapacityRaceError extends Error {
  override name = 'CapacityRaceError';
  /** the node whose claim or release failed, when known */
  constructor(
    message: string,
    readonly nodeId?: string,
  ) {
    super(message);
  }
}

export class JobsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly nodes: NodesStore,
    private readonly deadlines: DeadlineConfig,
    private readonly ledger: LedgerStore,
    /** where the accounts' limit counters live (the account items: domain/account-limits.ts) */
    private readonly accountsTable: string,
  ) {
    this.accounts = new QueueAccounts(db, table);
    this.dependents = new DependentsStore(db, table);
    this.startStats = new StartStatsStore(db, table);
  }

  /** recent submit-to-running times per node, for GET /v1/offers (start-stats-store.ts) */
  readonly startStats: StartStatsStore;

  /** who waits for which job, and the held jobs (dependents-store.ts) */
  readonly dependents: DependentsStore;

  /** which accounts have queued jobs: the sweep's fair share reads them (queue-accounts.ts) */
  readonly accounts: QueueAccounts;

  private toItem(job: Job) {
    const shard = shardOf(job.id);
    const deadline = jobDeadline(job, this.deadlines);
    // priority first (higher earlier), then age; strings sort lexicographically
    const order = `${String(100 - job.priority).padStart(3, '0')}#${String(job.createdAt).padStart(15, '0')}#${job.id}`;
    return {
      ...job,
      // a held job (waiting for its dependencies) sits in the same index under `h#<shard>`, which the sweep
      // never reads: only the dependencies' safety net does (dependents-store.ts)
      ...(job.status === 'QUEUED' && !job.held ? { queueShard: `q#${shard}`, queueOrder: order, queueAccount: QueueAccounts.partitionOf(job.accountId) } : {}),
      ...(job.status === 'QUEUED' && job.held ? { queueShard: `${HELD_PREFIX}${shard}`, queueOrder: order } : {}),
      ...(deadline ? { activeShard: `a#${shard}`, deadlineAt: deadline.at, deadlineKind: deadline.kind } : {}),
      // a gang's nodes are found through its rank items instead (one item has one index key)
      ...(job.liveAttemptId && job.nodeId && !job.gang ? { liveNodeId: job.nodeId } : {}),
    };
  }

  private fromItem(item: Record<string, unknown> | undefined): Job | undefined {
    if (!item) return undefined;
    const j = { ...item };
    for (const k of INTERNAL) delete j[k];
    return j as unknown as Job;
  }

  /**
   * `marker: false` leaves the account's queue marker to the caller: submit notes it only when the inline
   * match left the job waiting (a write saved per placed job; a missing marker only delays a job to the
   * next scheduled sweep's global read).
   */
  async create(job: Job, o: { marker?: boolean; guard?: UsageGuard } = {}): Promise<void> {
    await this.createAll([job], o);
  }

  /**
   * Creates jobs of one account all or none. Jobs counted in the account's limits move its queue counter in
   * the same transaction; with `guard` (a submit) it is conditioned on the queue limit, so concurrent
   * submits can never pass it. Throws ConditionalCheckFailedException when a job exists, AccountLimitError
   * ('queue') when the limit refuses, StaleAccountError when the limits changed since `guard` was read.
   */
  async createAll(jobs: readonly Job[], o: { marker?: boolean; guard?: UsageGuard } = {}): Promise<void> {
    const accountId = jobs[0].accountId;
    if (jobs.some((j) => j.accountId !== accountId)) throw new Error('createAll: jobs of one account only');
    const delta: UsageDelta = { queued: 0, gpus: 0, spend: 0 };
    for (const j of jobs) {
      const d = usageDelta(undefined, j, 0);
      delta.queued += d.queued;
      delta.gpus += d.gpus;
    }
    const usage = usageUpdate(this.accountsTable, accountId, delta, o.guard, true);
    if (jobs.length + (usage ? 1 : 0) > MAX_TRANSACT_ITEMS) {
      await this.createChunked(jobs, usage, delta, o.guard);
    } else if (!usage && jobs.length === 1) {
      await this.db.send(new PutCommand({ TableName: this.table, Item: this.toItem(jobs[0]), ConditionExpression: 'attribute_not_exists(id)' }));
    } else {
      const items: TransactWriteItem[] = jobs.map((j) => ({
        Put: { TableName: this.table, Item: marshall(this.toItem(j), { removeUndefinedValues: true }), ConditionExpression: 'attribute_not_exists(id)' },
      }));
      if (usage) items.push({ Update: usage });
      try {
        await this.db.send(new TransactWriteItemsCommand({ TransactItems: items }));
      } catch (e) {
        if (!(e instanceof TransactionCanceledException || (e as Error).name === 'TransactionCanceledException')) throw e;
        const reasons = (e as TransactionCanceledException).CancellationReasons ?? [];
        if (reasons.slice(0, jobs.length).some((r) => r.Code === 'ConditionalCheckFailed'))
          throw new ConditionalCheckFailedException({ message: 'job exists', $metadata: {} });
        const u = reasons[jobs.length];
        if (usage && u?.Code === 'ConditionalCheckFailed') {
          const why = refusedBy(u.Item ? (unmarshall(u.Item) as AccountItem) : undefined, delta, o.guard, {});
          throw why === 'queue' ? new AccountLimitError('queue', accountId) : new StaleAccountError();
        }
        throw e;
      }
    }
    if (jobs.some((j) => j.status === 'QUEUED') && o.marker !== false) await this.accounts.note(accountId);
  }

  /**
   * More jobs than one transaction holds (a job array): the account's counters move first, alone, under
   * the same conditions (the queue limit counts all of them, so concurrent submits still cannot pass it),
   * then the jobs are put 100 to a transaction. Should a put fail, the jobs already put are deleted while
   * still untouched (QUEUED at version 0) and the counters given back for every job not left behind, so a
   * failed submit leaves nothing. A crash between the steps leaves the counter too high (refuses more,
   * never lets more through).
   */
  private async createChunked(jobs: readonly Job[], usage: ReturnType<typeof usageUpdate>, delta: UsageDelta, guard: UsageGuard | undefined): Promise<void> {
    if (usage) {
      try {
        await this.db.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: usage }] }));
      } catch (e) {
        if (!(e instanceof TransactionCanceledException || (e as Error).name === 'TransactionCanceledException')) throw e;
        const u = (e as TransactionCanceledException).CancellationReasons?.[0];
        if (u?.Code !== 'ConditionalCheckFailed') throw e;
        const why = refusedBy(u.Item ? (unmarshall(u.Item) as AccountItem) : undefined, delta, guard, {});
        throw why === 'queue' ? new AccountLimitError('queue', jobs[0].accountId) : new StaleAccountError();
      }
    }
    const put: Job[] = [];
    try {
      for (let i = 0; i < jobs.length; i += MAX_TRANSACT_ITEMS) {
        const chunk = jobs.slice(i, i + MAX_TRANSACT_ITEMS);
        await this.db.send(
          new TransactWriteItemsCommand({
            TransactItems: chunk.map((j) => ({ Put: { TableName: this.table, Item: marshall(this.toItem(j), { removeUndefinedValues: true }), ConditionExpression: 'attribute_not_exists(id)' } })),
          }),
        );
        put.push(...chunk);
      }
    } catch (e) {
      const left: Job[] = [];
      for (const j of put) {
        await this.db
          .send(new DeleteCommand({ TableName: this.table, Key: { id: j.id }, ConditionExpression: '#s = :q AND #v = :v0', ExpressionAttributeNames: { '#s': 'status', '#v': 'version' }, ExpressionAttributeValues: { ':q': 'QUEUED', ':v0': 0 } }))
          .catch((err) => {
            if (!isConditionFailure(err)) throw err;
            left.push(j); // already moved on (placed): its own transitions count it from now on
          });
      }
      const back: UsageDelta = { queued: 0, gpus: 0, spend: 0 };
      for (const j of jobs.filter((x) => !left.includes(x))) {
        const d = usageDelta(undefined, j, 0);
        back.queued -= d.queued;
        back.gpus -= d.gpus;
      }
      const release = usage && usageUpdate(this.accountsTable, jobs[0].accountId, back, undefined, false);
      if (release) await this.db.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: release }] }));
      if (e instanceof TransactionCanceledException || (e as Error).name === 'TransactionCanceledException') {
        const reasons = (e as TransactionCanceledException).CancellationReasons ?? [];
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) throw new ConditionalCheckFailedException({ message: 'job exists', $metadata: {} });
      }
      throw e;
    }
  }

  async get(id: string): Promise<Job | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: true }));
    return this.fromItem(r.Item);
  }

  async listByAccount(accountId: string, limit: number, cursor?: string): Promise<{ items: Job[]; nextCursor?: string }> {
    const page = await pageByAccount(this.db, this.table, accountId, limit, cursor);
    return { items: page.items.map((i) => this.fromItem(i)!), nextCursor: page.nextCursor };
  }

  /**
   * Writes `t.job` if the job is still at `before.version`, together with the GPU claims and releases
   * of the transition. `nodes` holds the node reads the capacity items are conditioned on.
   * `postings` (escrow holds, settlements) join the same transaction.
   * Throws JobChangedError (a 409) when the job moved, CapacityRaceError when a node moved, InsufficientFundsError when the
   * consumer cannot cover a hold, AccountLimitError when the account's limits refuse it (GPUs, spend per
   * day), StaleAccountError when `guard` (the account as the placer read it) is out of date.
   * A job counted in its account's limits moves the account's counters in the same transaction.
   */
  async apply(
    before: Job,
    t: Transition,
    nodes: Record<string, Pick<Node, 'id' | 'status' | 'freeGpus' | 'totalGpus'>>,
    fence?: { nodeId: string; version: number },
    postings: readonly Posting[] = [],
    guard?: UsageGuard,
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
    // the provider's earnings per node from this transaction's settlements, counted on the node item
    const earned = new Map<string, number>();
    for (const p of postings) for (const x of p.entries) if (x.kind === 'charge' && x.cause.nodeId) earned.set(x.cause.nodeId, (earned.get(x.cause.nodeId) ?? 0) + x.amount);
    for (const e of t.effects) {
      if (e.kind !== 'claimGpus' && e.kind !== 'releaseGpus') continue;
      const node = nodes[e.nodeId];
      if (e.kind === 'claimGpus') items.push({ Update: this.nodes.claimItem(node, e.gpus) });
      if (e.kind === 'releaseGpus' && node) {
        items.push({ Update: this.nodes.releaseItem(node, e.gpus, fence?.nodeId === e.nodeId ? fence.version : undefined, earned.get(e.nodeId)) });
        earned.delete(e.nodeId);
      }
    }
    // a service replica's renewal pays its provider while the node keeps the GPUs: the counter alone
    for (const [nodeId, amount] of earned)
      if (!t.effects.some((e) => e.kind === 'releaseGpus' && e.nodeId === nodeId)) items.push({ Update: this.nodes.earnedItem(nodeId, amount) });
    const nodeItems = items.length;
    const ledger = this.ledger.items(postings);
    // the account's limit counters: merged into the ledger's update of the account item when there is one
    const accountId = t.job.accountId;
    let held = 0;
    for (const p of postings) for (const x of p.entries) if (x.kind === 'hold' && x.debit.account === accountId) held += x.amount;
    const delta = usageDelta(before, t.job, held);
    const usage = usageUpdate(this.accountsTable, accountId, delta, guard, false);
    let usageIndex = -1;
    if (usage) {
      const i = ledger.items.findIndex((x) => x.Update?.TableName === this.accountsTable && x.Update.Key?.id?.S === accountId);
      if (i >= 0) ledger.items[i] = { Update: mergeUpdates(ledger.items[i].Update!, usage) };
      else {
        ledger.items.push({ Update: usage });
        ledger.kinds.push('account');
      }
      usageIndex = nodeItems + (i >= 0 ? i : ledger.items.length - 1);
    }
    items.push(...ledger.items);
    // unconditional, so they never cancel the transaction: placed last, after every item that may
    items.push(...rankItems(this.table, before, t.job));
    if (items.length === 1) {
      // one item: a conditional put does it, at half a transaction's write cost
      try {
        await this.db.send(
          new PutCommand({ TableName: this.table, Item: this.toItem(t.job), ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': before.version } }),
        );
        await this.requeued(before, t.job);
        return t.job;
      } catch (e) {
        if (isConditionFailure(e)) throw new JobChangedError();
        throw e;
      }
    }
    try {
      await this.db.send(new TransactWriteItemsCommand({ TransactItems: items }));
      await this.requeued(before, t.job);
      return t.job;
    } catch (e) {
      if (e instanceof TransactionCanceledException || (e as Error).name === 'TransactionCanceledException') {
        const reasons = (e as TransactionCanceledException).CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') throw new JobChangedError();
        const raced = reasons.findIndex((r, i) => i >= 1 && i < nodeItems && r.Code === 'ConditionalCheckFailed');
        if (raced >= 0) throw new CapacityRaceError('node capacity moved', items[raced].Update?.Key?.id?.S);
        const u = usageIndex >= 0 ? reasons[usageIndex] : undefined;
        if (u?.Code === 'ConditionalCheckFailed') {
          // which of the account item's conditions refused: from the item as it was
          const debits: Partial<Record<Bucket, number>> = {};
          for (const [b, v] of Object.entries(balanceDeltas(postings).get(accountId) ?? {})) if (v < 0) debits[b as Bucket] = -v;
          const why = refusedBy(u.Item ? (unmarshall(u.Item) as AccountItem) : undefined, delta, guard, debits);
          if (why === 'funds') throw new InsufficientFundsError(accountId);
          if (why === 'stale') throw new StaleAccountError();
          throw new AccountLimitError(why, accountId);
        }
        const short = reasons.findIndex((r, i) => i >= nodeItems && r.Code === 'ConditionalCheckFailed' && ledger.kinds[i - nodeItems] === 'account');
        if (short >= 0) throw new InsufficientFundsError(items[short].Update!.Key!.id.S!);
        // an entry already there: this transition's posting was written before, so the job moved too
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) throw conflict('posting already written');
      }
      throw e;
    }
  }

  /** A job that went back to the queue: its account is waiting again (a marker write only when it was not). */
  private async requeued(before: Job, after: Job): Promise<void> {
    if (after.status === 'QUEUED' && before.status !== 'QUEUED') await this.accounts.note(after.accountId);
  }

  /** An account's oldest, highest-priority QUEUED jobs (eventually consistent, like every index read). */
  async queuedOf(accountId: string, limit: number): Promise<Job[]> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'queuedByAccount',
        KeyConditionExpression: 'queueAccount = :a',
        ExpressionAttributeValues: { ':a': QueueAccounts.partitionOf(accountId) },
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map((i) => this.fromItem(i)!);
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
    // a gang's rank item stands for its job with that rank's attempt
    return (r.Items ?? []).map((i) => rankLookup(i) ?? this.fromItem(i)!);
  }
}
