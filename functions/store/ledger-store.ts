// The ledger in DynamoDB. Balances live on the account items (accounts table); entries in the ledger
// table, one item per entry, keyed by `<posting key>#<leg>` and written under attribute_not_exists, in
// the same transaction as the balance updates (and, for jobs, the job and node writes). Every debit is
// conditioned on the bucket covering it, so no balance can go below zero.
import { QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransactionCanceledException, TransactWriteItemsCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { balanceDeltas } from '../domain/ledger/postings';
import type { Bucket, Entry, Posting } from '../domain/ledger/model';
import { conflict, DomainError } from '../domain/errors';

/** A debit its bucket does not cover. */
export class InsufficientFundsError extends DomainError {
  constructor(readonly account: string) {
    super('conflict', `insufficient credits in account ${account}`);
  }
}

export type LedgerItemKind = 'account' | 'entry';

interface EntryItem {
  id: string;
  at: number;
  kind: Entry['kind'];
  debitAccount: string;
  debitBucket: Bucket;
  creditAccount: string;
  creditBucket: Bucket;
  amount: number;
  cause: Entry['cause'];
  /** sort key of both statement indexes: time, then id */
  seqKey: string;
}

const seqKey = (at: number, id: string) => `${String(at).padStart(15, '0')}#${id}`;

const toItem = (e: Entry): EntryItem => ({
  id: e.id,
  at: e.at,
  kind: e.kind,
  debitAccount: e.debit.account,
  debitBucket: e.debit.bucket,
  creditAccount: e.credit.account,
  creditBucket: e.credit.bucket,
  amount: e.amount,
  cause: e.cause,
  seqKey: seqKey(e.at, e.id),
});

const fromItem = (i: Record<string, unknown>): Entry => {
  const x = i as unknown as EntryItem;
  return { id: x.id, at: x.at, kind: x.kind, debit: { account: x.debitAccount, bucket: x.debitBucket }, credit: { account: x.creditAccount, bucket: x.creditBucket }, amount: x.amount, cause: x.cause ?? {} };
};

export class LedgerStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly accountsTable: string,
  ) {}

  /** The transaction items that post `postings`: one conditional update per account, one put per entry. */
  items(postings: readonly Posting[]): { items: TransactWriteItem[]; kinds: LedgerItemKind[] } {
    const items: TransactWriteItem[] = [];
    const kinds: LedgerItemKind[] = [];
    for (const [account, deltas] of balanceDeltas(postings)) {
      const names: Record<string, string> = {};
      const values: Record<string, { N: string }> = {};
      const adds: string[] = [];
      const conditions: string[] = [];
      let i = 0;
      for (const [bucket, delta] of Object.entries(deltas)) {
        if (!delta) continue;
        names[`#b${i}`] = bucket;
        values[`:d${i}`] = { N: String(delta) };
        adds.push(`#b${i} :d${i}`);
        if (delta < 0) {
          values[`:n${i}`] = { N: String(-delta) };
          conditions.push(`#b${i} >= :n${i}`);
        }
        i++;
      }
      if (!adds.length) continue;
      items.push({
        Update: {
          TableName: this.accountsTable,
          Key: { id: { S: account } },
          UpdateExpression: `ADD ${adds.join(', ')}`,
          ...(conditions.length ? { ConditionExpression: conditions.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      });
      kinds.push('account');
    }
    for (const p of postings)
      for (const e of p.entries) {
        items.push({ Put: { TableName: this.table, Item: marshall(toItem(e), { removeUndefinedValues: true }), ConditionExpression: 'attribute_not_exists(id)' } });
        kinds.push('entry');
      }
    return { items, kinds };
  }

  /**
   * Posts on its own (with `extra` items before the ledger's, e.g. a node lock). Returns false when the
   * posting was already there (a retry); throws InsufficientFundsError when a debit is not covered.
   */
  async post(postings: readonly Posting[], extra: TransactWriteItem[] = []): Promise<boolean> {
    const { items, kinds } = this.items(postings);
    if (!items.length && !extra.length) return true;
    try {
      await this.db.send(new TransactWriteItemsCommand({ TransactItems: [...extra, ...items] }));
      return true;
    } catch (e) {
      const failed = failedIndexes(e);
      if (!failed) throw e;
      if (failed.some((i) => i < extra.length)) throw conflict('changed concurrently; try again');
      const mine = failed.filter((i) => i >= extra.length).map((i) => i - extra.length);
      if (mine.some((i) => kinds[i] === 'entry')) return false;
      const acct = mine.find((i) => kinds[i] === 'account');
      if (acct !== undefined) throw new InsufficientFundsError(items[acct].Update!.Key!.id.S!);
      throw e;
    }
  }

  /**
   * An account's entries, newest first: merged from the debit-side and credit-side indexes (an entry
   * within one account appears on both and is listed once). The cursor is the last seqKey returned.
   */
  async statement(accountId: string, limit: number, cursor?: string): Promise<{ items: Entry[]; nextCursor?: string }> {
    const q = (index: 'byDebit' | 'byCredit', attr: string) =>
      this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: index,
          KeyConditionExpression: cursor ? `${attr} = :a AND seqKey < :c` : `${attr} = :a`,
          ExpressionAttributeValues: { ':a': accountId, ...(cursor ? { ':c': cursor } : {}) },
          ScanIndexForward: false,
          Limit: limit + 1,
        }),
      );
    const [d, c] = await Promise.all([q('byDebit', 'debitAccount'), q('byCredit', 'creditAccount')]);
    const byId = new Map<string, EntryItem>();
    for (const i of [...(d.Items ?? []), ...(c.Items ?? [])]) byId.set(i.id as string, i as EntryItem);
    const merged = [...byId.values()].sort((a, b) => (a.seqKey < b.seqKey ? 1 : a.seqKey > b.seqKey ? -1 : 0));
    const page = merged.slice(0, limit);
    const more = merged.length > limit || !!d.LastEvaluatedKey || !!c.LastEvaluatedKey;
    return { items: page.map((i) => fromItem(i as unknown as Record<string, unknown>)), nextCursor: more && page.length ? page[page.length - 1].seqKey : undefined };
  }

  /** Entries paying `providerId` since `since` (ms), for finding whom a node served. */
  async creditsSince(accountId: string, since: number): Promise<Entry[]> {
    const out: Entry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'byCredit',
          KeyConditionExpression: 'creditAccount = :a AND seqKey >= :s',
          ExpressionAttributeValues: { ':a': accountId, ':s': seqKey(since, '') },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(r.Items ?? []).map((i) => fromItem(i)));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** An account's entries of one kind on one side, oldest first. */
  async ofKind(accountId: string, on: 'debit' | 'credit', kind: Entry['kind']): Promise<Entry[]> {
    const out: Entry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: on === 'debit' ? 'byDebit' : 'byCredit',
          KeyConditionExpression: `${on}Account = :a`,
          FilterExpression: '#k = :k',
          ExpressionAttributeNames: { '#k': 'kind' },
          ExpressionAttributeValues: { ':a': accountId, ':k': kind },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(r.Items ?? []).map((i) => fromItem(i)));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Every entry (the audit reads them all). */
  async *all(): AsyncGenerator<Entry> {
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(new ScanCommand({ TableName: this.table, ExclusiveStartKey: start }));
      for (const i of r.Items ?? []) yield fromItem(i);
      start = r.LastEvaluatedKey;
    } while (start);
  }
}

/** Indexes of the items whose condition failed in a cancelled transaction; undefined for other errors. */
export function failedIndexes(e: unknown): number[] | undefined {
  if (!(e instanceof TransactionCanceledException) && (e as Error)?.name !== 'TransactionCanceledException') return undefined;
  const reasons = (e as TransactionCanceledException).CancellationReasons ?? [];
  const out: number[] = [];
  reasons.forEach((r, i) => {
    if (r.Code === 'ConditionalCheckFailed') out.push(i);
  });
  return out.length ? out : undefined;
}
