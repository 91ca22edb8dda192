// Jobs, with their attempts inside the job item: every job transition is one conditional write of one
// item (`version` = the version read), joined in a transaction with the node capacity it moves.
// Two kinds of helper items share the table (ids with `#`, which no job id has; no accountId, so job
// lists never show them): a gang's rank items (`<jobId>#rank<k>`, one per live rank, so the liveByNode
// index finds every node of a gang) and the queue's account markers (queue-accounts.ts).
import { DeleteCommand, GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { ConditionalCheckFailedException, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
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
import { InsufficientFundsError, type LedgerItemKind, type LedgerStore } from './ledger-store';
import { MAX_TRANSACT_ITEMS, TransactionRefusedError, UnitOfWork, type Refused } from './unit-of-work';
import type { NodesStore } from './nodes-store';
import { QueueAccounts } from './queue-accounts';
import { rankItems, rankLookup } from './rank-items';
import { allShards, queryPartitions, shardOf } from './shard';
import { DependentsStore, HELD_PREFIX } from './dependents-store';
import { StartStatsStore } from './start-stats-store';

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

/** The kinds of item in a job's transactions (unit-of-work.ts): what a refusal is mapped by. */
export type JobItemKind = 'job' | 'node' | 'rank' | 'account-usage' | LedgerItemKind;

/** A submit's refused queue counter: the queue limit, or limits changed since they were read. */
function submitRefusal(u: Refused<JobItemKind>, accountId: string, delta: UsageDelta, guard: UsageGuard | undefined): Error {
  return refusedBy(u.old as AccountItem | undefined, delta, guard, {}) === 'queue' ? new AccountLimitError('queue', accountId) : new StaleAccountError();
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
    if (jobs.length + (usage ? 1 : 0) > MAX_TRANSACT_ITEMS) await this.createChunked(jobs, usage, delta, o.guard);
    else {
      const uow = new UnitOfWork<JobItemKind>();
      for (const j of jobs) uow.add('job', j.id, this.newJobItem(j));
      if (usage) uow.add('account-usage', accountId, { Update: usage });
      try {
        await uow.commit(this.db, { oneItemAsWrite: true });
      } catch (e) {
        if (!(e instanceof TransactionRefusedError)) throw e;
        const refused = e as TransactionRefusedError<JobItemKind>;
        if (refused.of('job')) throw new ConditionalCheckFailedException({ message: 'job exists', $metadata: {} });
        const u = refused.of('account-usage');
        if (u) throw submitRefusal(u, accountId, delta, o.guard);
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
        await new UnitOfWork<JobItemKind>().add('account-usage', jobs[0].accountId, { Update: usage }).commit(this.db);
      } catch (e) {
        const u = e instanceof TransactionRefusedError ? (e as TransactionRefusedError<JobItemKind>).of('account-usage') : undefined;
        if (!u) throw e;
        throw submitRefusal(u, jobs[0].accountId, delta, guard);
      }
    }
    const put: Job[] = [];
    try {
      for (let i = 0; i < jobs.length; i += MAX_TRANSACT_ITEMS) {
        const chunk = jobs.slice(i, i + MAX_TRANSACT_ITEMS);
        const uow = new UnitOfWork<JobItemKind>();
        for (const j of chunk) uow.add('job', j.id, this.newJobItem(j));
        await uow.commit(this.db);
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
      if (release) await new UnitOfWork<JobItemKind>().add('account-usage', jobs[0].accountId, { Update: release }).commit(this.db);
      if (e instanceof TransactionRefusedError && (e as TransactionRefusedError<JobItemKind>).of('job')) throw new ConditionalCheckFailedException({ message: 'job exists', $metadata: {} });
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
    const uow = new UnitOfWork<JobItemKind>();
    uow.add('job', t.job.id, {
      Put: {
        TableName: this.table,
        Item: marshall(this.toItem(t.job), { removeUndefinedValues: true }),
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': { N: String(before.version) } },
      },
    });
    // the provider's earnings per node from this transaction's settlements, counted on the node item
    const earned = new Map<string, number>();
    for (const p of postings) for (const x of p.entries) if (x.kind === 'charge' && x.cause.nodeId) earned.set(x.cause.nodeId, (earned.get(x.cause.nodeId) ?? 0) + x.amount);
    for (const e of t.effects) {
      if (e.kind !== 'claimGpus' && e.kind !== 'releaseGpus') continue;
      const node = nodes[e.nodeId];
      if (e.kind === 'claimGpus') uow.add('node', e.nodeId, { Update: this.nodes.claimItem(node, e.gpus) });
      if (e.kind === 'releaseGpus' && node) {
        uow.add('node', e.nodeId, { Update: this.nodes.releaseItem(node, e.gpus, fence?.nodeId === e.nodeId ? fence.version : undefined, earned.get(e.nodeId)) });
        earned.delete(e.nodeId);
      }
    }
    // a service replica's renewal pays its provider while the node keeps the GPUs: the counter alone
    for (const [nodeId, amount] of earned)
      if (!t.effects.some((e) => e.kind === 'releaseGpus' && e.nodeId === nodeId)) uow.add('node', nodeId, { Update: this.nodes.earnedItem(nodeId, amount) });
    this.ledger.addTo(uow, postings);
    // the account's limit counters: merged into the ledger's update of the account item when there is one
    const accountId = t.job.accountId;
    let held = 0;
    for (const p of postings) for (const x of p.entries) if (x.kind === 'hold' && x.debit.account === accountId) held += x.amount;
    const delta = usageDelta(before, t.job, held);
    const usage = usageUpdate(this.accountsTable, accountId, delta, guard, false);
    if (usage) uow.addMerged('account-usage', accountId, usage, mergeUpdates);
    // unconditional, so they never refuse the transaction
    for (const r of rankItems(this.table, before, t.job)) uow.add('rank', t.job.id, r);
    try {
      // one item (the job alone): a conditional put does it, at half a transaction's write cost
      await uow.commit(this.db, { oneItemAsWrite: true });
    } catch (e) {
      if (!(e instanceof TransactionRefusedError)) throw e;
      throw this.applyRefusal(e as TransactionRefusedError<JobItemKind>, accountId, delta, guard, postings);
    }
    await this.requeued(before, t.job);
    return t.job;
  }

  /** Why a transition's transaction was refused, as the typed error its callers handle; by precedence of kind. */
  private applyRefusal(refused: TransactionRefusedError<JobItemKind>, accountId: string, delta: UsageDelta, guard: UsageGuard | undefined, postings: readonly Posting[]): Error {
    if (refused.of('job')) return new JobChangedError();
    const node = refused.of('node');
    if (node) return new CapacityRaceError('node capacity moved', node.subject);
    const u = refused.of('account-usage');
    if (u) {
      // what the account's postings take from each bucket: a refusal for funds is told from one for limits
      const debits: Partial<Record<Bucket, number>> = {};
      for (const [b, v] of Object.entries(balanceDeltas(postings).get(accountId) ?? {})) if (v < 0) debits[b as Bucket] = -v;
      return this.usageRefusal(u, accountId, delta, guard, debits);
    }
    const short = refused.of('account-balance');
    if (short) return new InsufficientFundsError(short.subject);
    // an entry already there: this transition's posting was written before, so the job moved too
    return conflict('posting already written');
  }

  /** A refused update of the account's counters: which of its conditions refused, from the item as it was. */
  private usageRefusal(u: Refused<JobItemKind>, accountId: string, delta: UsageDelta, guard: UsageGuard | undefined, debits: Partial<Record<Bucket, number>>): Error {
    const why = refusedBy(u.old as AccountItem | undefined, delta, guard, debits);
    if (why === 'funds') return new InsufficientFundsError(accountId);
    if (why === 'stale') return new StaleAccountError();
    return new AccountLimitError(why, accountId);
  }

  /** A new job's put: refused when a job with its id exists. */
  private newJobItem(j: Job): TransactWriteItem {
    return { Put: { TableName: this.table, Item: marshall(this.toItem(j), { removeUndefinedValues: true }), ConditionExpression: 'attribute_not_exists(id)' } };
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
