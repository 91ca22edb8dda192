// One DynamoDB transaction (TransactWriteItems) built item by item, each item tagged with what it stands
// for (its kind: 'job', 'node', 'account-balance', …, and its subject: the job, node or account id).
// When DynamoDB cancels the transaction because conditions failed, the refusal names the refused items
// by their tags, so a caller maps "the job moved" or "the node's capacity moved" by kind, never by the
// item's position in CancellationReasons: adding, removing or reordering items cannot change a verdict.
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type CancellationReason,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

/** DynamoDB's most operations in one transaction */
export const MAX_TRANSACT_ITEMS = 100;

type Update = NonNullable<TransactWriteItem['Update']>;
/** An item as lib-dynamodb writes it (plain values, not AttributeValues). */
export type NativeWriteItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface Tag<K extends string> {
  kind: K;
  /** what the item is about: a job, node or account id, a posting key */
  subject: string;
}

export interface Refused<K extends string> extends Tag<K> {
  /** the item as it was when its condition failed, where the write asked for it (ReturnValuesOnConditionCheckFailure) */
  old?: Record<string, unknown>;
}

/** A transaction cancelled because conditions failed: the refused items by their tags, in the order they were added. */
export class TransactionRefusedError<K extends string = string> extends Error {
  override name = 'TransactionRefusedError';
  constructor(
    readonly refused: readonly Refused<K>[],
    options?: { cause?: unknown },
  ) {
    super(`transaction refused by ${refused.map((r) => `${r.kind} ${r.subject}`).join(', ')}`, options);
  }

  /** the first refused item (in the order the items were added) */
  get first(): Refused<K> {
    return this.refused[0];
  }

  /** the first refused item of `kind`: callers ask kind by kind, in the precedence of their verdicts */
  of(kind: K): Refused<K> | undefined {
    return this.refused.find((r) => r.kind === kind);
  }
}

/** A cancelled transaction, whatever the reasons (failed conditions, a conflict with another transaction…). */
export const isTransactionCancelled = (e: unknown): boolean => (e as Error)?.name === 'TransactionCanceledException';

const keyOf = (table: string | undefined, key: unknown) => `${table}\u0000${JSON.stringify(key)}`;

export interface CommitOptions {
  /** tries again this many times when DynamoDB cancels only for a conflict with another transaction in flight */
  conflictRetries?: number;
  /** one item alone is sent as a single conditional write (half a transaction's write cost) */
  oneItemAsWrite?: boolean;
}

export class UnitOfWork<K extends string = string> {
  private readonly entries: Array<Tag<K> & { item: TransactWriteItem }> = [];

  /** Adds an item in DynamoDB's AttributeValue form. */
  add(kind: K, subject: string, item: TransactWriteItem): this {
    this.entries.push({ kind, subject, item });
    return this;
  }

  /** Adds an item written with plain values (as lib-dynamodb takes them). */
  addNative(kind: K, subject: string, item: NativeWriteItem): this {
    return this.add(kind, subject, toAttributeValues(item));
  }

  /**
   * Adds `update`, or, when the unit already updates the same item, merges it into that update with
   * `merge` and tags the result `kind` (DynamoDB allows one operation per item in a transaction).
   */
  addMerged(kind: K, subject: string, update: Update, merge: (existing: Update, next: Update) => Update): this {
    const key = keyOf(update.TableName, update.Key);
    const at = this.entries.findIndex((e) => e.item.Update && keyOf(e.item.Update.TableName, e.item.Update.Key) === key);
    if (at < 0) return this.add(kind, subject, { Update: update });
    this.entries[at] = { kind, subject, item: { Update: merge(this.entries[at].item.Update!, update) } };
    return this;
  }

  get size(): number {
    return this.entries.length;
  }

  /** the items as they would be sent */
  get items(): TransactWriteItem[] {
    return this.entries.map((e) => e.item);
  }

  /**
   * Writes every item or none. Throws TransactionRefusedError when conditions failed (naming the refused
   * items); any other failure, a cancellation for another reason included, is thrown as DynamoDB gave it.
   */
  async commit(db: DynamoDBDocumentClient, o: CommitOptions = {}): Promise<void> {
    if (!this.entries.length) return;
    if (this.entries.length > MAX_TRANSACT_ITEMS) throw new Error(`a transaction holds at most ${MAX_TRANSACT_ITEMS} items (this one ${this.entries.length})`);
    if (this.entries.length === 1 && o.oneItemAsWrite) return this.writeOne(db);
    for (let tries = 0; ; tries++) {
      try {
        await db.send(new TransactWriteItemsCommand({ TransactItems: this.items }));
        return;
      } catch (e) {
        if (!isTransactionCancelled(e)) throw e;
        const reasons: CancellationReason[] = (e as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
        // DynamoDB gives one reason per item, in the order sent: the tags are matched to them here, once
        const refused = this.entries.flatMap((entry, i) => (reasons[i]?.Code === 'ConditionalCheckFailed' ? [refusal(entry, reasons[i].Item)] : []));
        if (refused.length) throw new TransactionRefusedError(refused, { cause: e });
        // a conflict with another transaction says nothing about the outcome: nothing was written, go again
        if (tries < (o.conflictRetries ?? 0) && reasons.some((r) => r.Code === 'TransactionConflict')) {
          await new Promise((r) => setTimeout(r, 10 + Math.random() * 40 * (tries + 1)));
          continue;
        }
        throw e;
      }
    }
  }

  private async writeOne(db: DynamoDBDocumentClient): Promise<void> {
    const entry = this.entries[0];
    const { Put, Update, Delete, ConditionCheck } = entry.item;
    try {
      if (Put) await db.send(new PutItemCommand(Put));
      else if (Update) await db.send(new UpdateItemCommand(Update));
      else if (Delete) await db.send(new DeleteItemCommand(Delete));
      else if (ConditionCheck) await db.send(new TransactWriteItemsCommand({ TransactItems: [entry.item] }));
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException || (e as Error).name === 'ConditionalCheckFailedException')
        throw new TransactionRefusedError([refusal(entry, (e as ConditionalCheckFailedException).Item)], { cause: e });
      throw e;
    }
  }
}

function refusal<K extends string>(entry: Tag<K>, old: CancellationReason['Item']): Refused<K> {
  return { kind: entry.kind, subject: entry.subject, ...(old ? { old: unmarshall(old) } : {}) };
}

const av = (v: Record<string, unknown> | undefined) => (v ? marshall(v, { removeUndefinedValues: true }) : undefined);

/** lib-dynamodb's translation, for the parts of an item that hold values. */
function toAttributeValues(item: NativeWriteItem): TransactWriteItem {
  const values = <T extends { ExpressionAttributeValues?: Record<string, unknown> }>(x: T) => (x.ExpressionAttributeValues ? { ExpressionAttributeValues: av(x.ExpressionAttributeValues) } : {});
  if (item.Put) return { Put: { ...item.Put, Item: av(item.Put.Item)!, ...values(item.Put) } } as TransactWriteItem;
  if (item.Update) return { Update: { ...item.Update, Key: av(item.Update.Key)!, ...values(item.Update) } } as TransactWriteItem;
  if (item.Delete) return { Delete: { ...item.Delete, Key: av(item.Delete.Key)!, ...values(item.Delete) } } as TransactWriteItem;
  if (item.ConditionCheck) return { ConditionCheck: { ...item.ConditionCheck, Key: av(item.ConditionCheck.Key)!, ...values(item.ConditionCheck) } } as TransactWriteItem;
  throw new Error('a transaction item needs one of Put, Update, Delete, ConditionCheck');
}
