// Services (functions/domain/service/model.ts) in the services table: one item per service, the model's
// fields as top-level attributes. `load` belongs to the routing tier (each router sets `load.<routerId>`
// with its own UpdateItem), so the control plane's writes never carry it: an update of every other
// attribute, conditioned on `version`. `activeShard` puts a service not yet DELETED in the sparse
// `active` index the reconciler's tick reads. The account item counts its services not yet DELETED
// (`activeServices`), moved in the same transaction as a create and as the write that makes one DELETED,
// so the per-account limit holds under concurrent creates.
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Service } from '../domain/service/model';
import { isConditionFailure } from './conditions';
import { TransactionRefusedError, UnitOfWork, type NativeWriteItem } from './unit-of-work';
import { pageByAccount } from './query-all';
import { allShards, queryPartitions, shardOf } from './shard';

/** Raised when the service moved since it was read (its version): read it again and decide again. */
export class ServiceChangedError extends Error {
  override name = 'ServiceChangedError';
}

/** the items of a service's transactions (unit-of-work.ts): the service, its account's count */
type ServiceItemKind = 'service' | 'service-count';
type NativeUpdate = NonNullable<NativeWriteItem['Update']>;

const INTERNAL = ['activeShard'];
/** optional fields the control plane may clear; an absent one is REMOVEd */
const OPTIONAL: readonly (keyof Service)[] = ['statusReason', 'scaledAt', 'failures', 'backoffUntil'];
/** services one tick reads per shard partition (a page; the rest on the next tick) */
const ACTIVE_PAGE = 500;

export class ServicesStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    /** the account items, where each account's count of services not yet DELETED lives */
    private readonly accountsTable: string,
  ) {}

  private countUpdate(accountId: string, by: 1 | -1, max?: number) {
    return {
      TableName: this.accountsTable,
      Key: { id: accountId },
      UpdateExpression: 'ADD #n :by',
      ...(max !== undefined ? { ConditionExpression: 'attribute_exists(id) AND (attribute_not_exists(#n) OR #n < :max)' } : {}),
      ExpressionAttributeNames: { '#n': 'activeServices' },
      ExpressionAttributeValues: { ':by': by, ...(max !== undefined ? { ':max': max } : {}) },
    };
  }

  private static activeShard = (s: Pick<Service, 'id' | 'status'>) => (s.status === 'DELETED' ? undefined : `s#${shardOf(s.id)}`);

  private fromItem(item: Record<string, unknown> | undefined): Service | undefined {
    if (!item) return undefined;
    const s = { ...item };
    for (const k of INTERNAL) delete s[k];
    return { load: {}, ...s } as unknown as Service;
  }

  /** Writes a new service while its account holds fewer than `max` not yet DELETED; 'exists' when the id is taken. */
  async create(s: Service, max: number, tries = 3): Promise<'created' | 'exists' | 'limit'> {
    const shard = ServicesStore.activeShard(s);
    const uow = new UnitOfWork<ServiceItemKind>()
      .addNative('service', s.id, { Put: { TableName: this.table, Item: { ...s, load: s.load ?? {}, ...(shard ? { activeShard: shard } : {}) }, ConditionExpression: 'attribute_not_exists(id)' } })
      .addNative('service-count', s.accountId, { Update: this.countUpdate(s.accountId, 1, max) });
    try {
      // another transaction holding the account item (DynamoDB's TransactionConflict) wrote nothing: go again
      await uow.commit(this.db, { conflictRetries: tries - 1 });
      return 'created';
    } catch (e) {
      if (!(e instanceof TransactionRefusedError)) throw e;
      const refused = e as TransactionRefusedError<ServiceItemKind>;
      if (refused.of('service')) return 'exists';
      if (refused.of('service-count')) return 'limit';
      throw e;
    }
  }

  async get(id: string): Promise<Service | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: true }));
    return this.fromItem(r.Item);
  }

  /**
   * Writes `next` (version = `before.version + 1`) if the item is still at `before.version`; every attribute
   * but `id` and `load`. Throws ServiceChangedError when another writer moved it first.
   */
  async save(before: Pick<Service, 'id' | 'version' | 'status' | 'accountId' | 'load'>, next: Service): Promise<Service> {
    if (next.id !== before.id || next.version !== before.version + 1) throw new Error('save: next must be the following version of the same service');
    const names: Record<string, string> = { '#v': 'version' };
    const values: Record<string, unknown> = { ':before': before.version };
    const sets: string[] = [];
    const removes: string[] = [];
    const shard = ServicesStore.activeShard(next);
    const fields: Record<string, unknown> = { ...next, activeShard: shard };
    let i = 0;
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'id' || k === 'load') continue;
      names[`#a${i}`] = k;
      if (v === undefined) removes.push(`#a${i}`);
      else {
        values[`:a${i}`] = v;
        sets.push(`#a${i} = :a${i}`);
      }
      i++;
    }
    for (const k of OPTIONAL) {
      if (k in fields) continue;
      names[`#a${i}`] = k;
      removes.push(`#a${i}`);
      i++;
    }
    const update: UpdateCommandInput = {
      TableName: this.table,
      Key: { id: next.id },
      UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: 'attribute_exists(id) AND #v = :before',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    try {
      // the write that makes a service DELETED gives its place in the account's count back, in one transaction
      if (before.status !== 'DELETED' && next.status === 'DELETED') {
        await new UnitOfWork<ServiceItemKind>()
          .addNative('service', next.id, { Update: update as NativeUpdate })
          .addNative('service-count', next.accountId, { Update: this.countUpdate(next.accountId, -1) })
          .commit(this.db);
        return { ...next, load: before.load ?? {} };
      }
      const r = await this.db.send(new UpdateCommand({ ...update, ReturnValues: 'ALL_NEW' }));
      return this.fromItem(r.Attributes)!;
    } catch (e) {
      const refused = e instanceof TransactionRefusedError && (e as TransactionRefusedError<ServiceItemKind>).of('service');
      if (isConditionFailure(e) || refused) throw new ServiceChangedError(`service ${next.id} changed since version ${before.version}`);
      throw e;
    }
  }

  /** The account's services, newest first, DELETED ones included. */
  async listByAccount(accountId: string, limit: number, cursor?: string): Promise<{ items: Service[]; nextCursor?: string }> {
    const page = await pageByAccount(this.db, this.table, accountId, limit, cursor);
    return { items: page.items.map((i) => this.fromItem(i)!), nextCursor: page.nextCursor };
  }

  /** Ids of services not yet DELETED (the sparse `active` index; eventually consistent: read each again before acting). */
  async activeIds(): Promise<string[]> {
    const items = await queryPartitions(this.db, {
      table: this.table,
      index: 'active',
      partitionAttr: 'activeShard',
      partitions: allShards().map((s) => `s#${s}`),
      limit: ACTIVE_PAGE,
    });
    return items.map((i) => i.id as string);
  }
}
