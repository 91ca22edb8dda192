// The burst table: one item per launch (functions/domain/burst/model.ts) plus three control items:
//   `limits`      live instances and GPUs, so maxInstances/maxGpus hold however many ticks race
//   `day#<date>`  micro-USD committed that UTC day, so the daily cap holds the same way
//   `lease`       the one tick allowed to plan at a time, so one backlog does not launch twice
// Every change that spends money or capacity is one conditional write or one transaction.
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { budgetDay, type BurstInstance } from '../domain/burst/model';
import { decodeCursor, encodeCursor } from './cursor';
import { ignoreConditionFailure, isConditionFailure } from './conditions';
import { isTransactionCancelled, TransactionRefusedError, UnitOfWork } from './unit-of-work';

const LIMITS = 'limits';
const LEASE = 'lease';
const dayKey = (now: number) => `day#${budgetDay(now)}`;
/** USD is counted in integer micro-USD so sums never drift */
export const toMicroUsd = (usd: number) => Math.round(usd * 1_000_000);
/** ended records and day counters expire after this (TTL, epoch seconds) */
const KEEP_MS = 40 * 24 * 3_600_000;

export interface Limits {
  maxInstances: number;
  maxGpus: number;
  dailyBudgetUsd: number;
}

/** A transaction refused by its conditions: which one decides what the tick reports. */
export class LimitError extends Error {
  override name = 'LimitError';
  constructor(readonly limit: 'exists' | 'instances' | 'budget' | 'version') {
    super(`burst limit: ${limit}`);
  }
}

/** the items of burst transactions (unit-of-work.ts): a launch record, the limits counters, a day's budget */
type BurstItemKind = 'launch' | 'limits' | 'budget';

export class BurstStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Writes a new launch record, counts it against the limits and charges its first hour to today's
   * budget, all or nothing. Refused (LimitError) when a limit would be passed.
   */
  async reserveLaunch(r: BurstInstance, limits: Limits, now: number): Promise<void> {
    // the conditions below pass on the very first launch (no counters yet), so check the bare limits here
    if (r.gpus > limits.maxGpus || limits.maxInstances < 1) throw new LimitError('instances');
    const cost = toMicroUsd(r.hourlyCostUsd);
    if (cost > toMicroUsd(limits.dailyBudgetUsd)) throw new LimitError('budget');
    const uow = new UnitOfWork<BurstItemKind>()
      .addNative('launch', r.id, { Put: { TableName: this.table, Item: { ...r, kind: 'instance' }, ConditionExpression: 'attribute_not_exists(id)' } })
      .addNative('limits', LIMITS, {
        Update: {
          TableName: this.table,
          Key: { id: LIMITS },
          UpdateExpression: 'ADD instances :one, gpus :g',
          ConditionExpression: '(attribute_not_exists(instances) OR instances <= :maxI) AND (attribute_not_exists(gpus) OR gpus <= :maxG)',
          ExpressionAttributeValues: { ':one': 1, ':g': r.gpus, ':maxI': limits.maxInstances - 1, ':maxG': limits.maxGpus - r.gpus },
        },
      })
      .addNative('budget', dayKey(now), this.chargeItem(now, cost, limits.dailyBudgetUsd));
    try {
      await uow.commit(this.db);
    } catch (e) {
      const refused = e instanceof TransactionRefusedError ? (e as TransactionRefusedError<BurstItemKind>) : undefined;
      if (!refused && !isTransactionCancelled(e)) throw e;
      // a cancellation for a conflict with another tick refused nothing in particular: 'version', read again
      throw new LimitError(refused?.of('launch') ? 'exists' : refused?.of('limits') ? 'instances' : refused?.of('budget') ? 'budget' : 'version');
    }
  }

  private chargeItem(now: number, microUsd: number, capUsd: number) {
    return {
      Update: {
        TableName: this.table,
        Key: { id: dayKey(now) },
        UpdateExpression: 'ADD committedMicroUsd :c SET expiresAt = if_not_exists(expiresAt, :exp)',
        ConditionExpression: 'attribute_not_exists(committedMicroUsd) OR committedMicroUsd <= :left',
        ExpressionAttributeValues: { ':c': microUsd, ':left': toMicroUsd(capUsd) - microUsd, ':exp': Math.floor((now + KEEP_MS) / 1000) },
      },
    };
  }

  /**
   * Charges another hour of a live instance to today's budget and moves its `committedUntil`, once per
   * hour however many ticks race (conditioned on the record's version). LimitError('budget') when the
   * day's cap would be passed: the caller retires the instance.
   */
  async chargeHour(before: BurstInstance, committedUntil: number, capUsd: number, now: number): Promise<BurstInstance> {
    const next = { ...before, committedUntil, version: before.version + 1 };
    const uow = new UnitOfWork<BurstItemKind>()
      .addNative('launch', before.id, { Put: { TableName: this.table, Item: { ...next, kind: 'instance' }, ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': before.version } } })
      .addNative('budget', dayKey(now), this.chargeItem(now, toMicroUsd(before.hourlyCostUsd), capUsd));
    try {
      await uow.commit(this.db);
      return next;
    } catch (e) {
      if (!(e instanceof TransactionRefusedError) && !isTransactionCancelled(e)) throw e;
      throw new LimitError(e instanceof TransactionRefusedError && (e as TransactionRefusedError<BurstItemKind>).of('launch') ? 'version' : 'budget');
    }
  }

  /** Saves a change under the version read; false when another tick changed it first. */
  async save(before: BurstInstance, next: BurstInstance): Promise<boolean> {
    const item = { ...next, kind: 'instance', version: before.version + 1 };
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': before.version } }));
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Ends a record and gives its instance and GPUs back to the limits, exactly once. */
  async end(before: BurstInstance, state: 'terminated' | 'failed', reason: string, now: number): Promise<boolean> {
    const next: BurstInstance = { ...before, state, stateReason: reason, endedAt: now, version: before.version + 1 };
    const uow = new UnitOfWork<BurstItemKind>()
      .addNative('launch', before.id, {
        Put: {
          TableName: this.table,
          Item: { ...next, kind: 'instance', expiresAt: Math.floor((now + KEEP_MS) / 1000) },
          ConditionExpression: 'version = :v',
          ExpressionAttributeValues: { ':v': before.version },
        },
      })
      .addNative('limits', LIMITS, { Update: { TableName: this.table, Key: { id: LIMITS }, UpdateExpression: 'ADD instances :m, gpus :g', ExpressionAttributeValues: { ':m': -1, ':g': -before.gpus } } });
    try {
      await uow.commit(this.db);
      return true;
    } catch (e) {
      // the record moved (or another tick's transaction was on it): that tick ends it
      if (e instanceof TransactionRefusedError || isTransactionCancelled(e)) return false;
      throw e;
    }
  }

  async get(id: string): Promise<BurstInstance | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: true }));
    return r.Item?.kind === 'instance' ? strip(r.Item) : undefined;
  }

  /** Every launch record (the table holds the live ones plus 40 days of ended ones: a scan is small). */
  async all(): Promise<BurstInstance[]> {
    const out: BurstInstance[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(
        new ScanCommand({ TableName: this.table, FilterExpression: 'kind = :k', ExpressionAttributeValues: { ':k': 'instance' }, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      out.push(...(r.Items ?? []).map(strip));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** A page of launch records for GET /v1/burst, newest first within the page. */
  async page(limit: number, cursor?: string): Promise<{ items: BurstInstance[]; nextCursor?: string }> {
    const r = await this.db.send(
      new ScanCommand({
        TableName: this.table,
        FilterExpression: 'kind = :k',
        ExpressionAttributeValues: { ':k': 'instance' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, {}, { id: 'string' }),
      }),
    );
    const items = (r.Items ?? []).map(strip).sort((a, b) => b.createdAt - a.createdAt);
    return { items, nextCursor: encodeCursor(r.LastEvaluatedKey) };
  }

  async committedTodayUsd(now: number): Promise<number> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id: dayKey(now) }, ConsistentRead: true }));
    return ((r.Item?.committedMicroUsd as number | undefined) ?? 0) / 1_000_000;
  }

  /** Takes (or renews) the planning lease for `ms`; false while another holder's lease runs. */
  async lease(holder: string, now: number, ms: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id: LEASE },
          UpdateExpression: 'SET holder = :h, #until = :u',
          ConditionExpression: 'attribute_not_exists(#until) OR #until < :now OR holder = :h',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':h': holder, ':u': now + ms, ':now': now },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async release(holder: string): Promise<void> {
    await this.db
      .send(new UpdateCommand({ TableName: this.table, Key: { id: LEASE }, UpdateExpression: 'REMOVE #until', ConditionExpression: 'holder = :h', ExpressionAttributeNames: { '#until': 'until' }, ExpressionAttributeValues: { ':h': holder } }))
      .catch(ignoreConditionFailure);
  }
}

function strip(item: Record<string, unknown>): BurstInstance {
  const { kind: _k, expiresAt: _e, ...rest } = item;
  return rest as unknown as BurstInstance;
}
