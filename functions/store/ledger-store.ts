// The ledger in DynamoDB. Balances live on the account items (accounts table); entries live in the
// ledger table, grouped by posting: one item per posting, keyed by its idempotency key and written under
// attribute_not_exists, in the same transaction as the balance updates (and, for jobs, the job and node
// writes). Every debit is conditioned on the bucket covering it, so no balance can go below zero.
//
// Why one item per posting and not per entry: a settlement has four entries; as four items, each copied
// into two statement indexes, it cost 12 item writes, as one item with three index copies it costs 4
// (docs/ledger.md). An item names at most two user accounts (party1, party2, each an index) and marks
// system movements (sysParty): a posting touching more user accounts (a slash paying many consumers)
// is stored as several items, all in the one transaction.
import { GetCommand, QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { balanceDeltas } from '../domain/ledger/postings';
import { MINT_SOURCE, SYSTEM_ACCOUNTS, type Bucket, type Entry, type Posting } from '../domain/ledger/model';
import { DomainError } from '../domain/errors';
import { TransactionRefusedError, UnitOfWork } from './unit-of-work';

/** A debit its bucket does not cover. */
export class InsufficientFundsError extends DomainError {
  constructor(readonly account: string) {
    super('conflict', `insufficient credits in account ${account}`);
  }
}

/** A node's stake lock posted with the entries was refused: the node moved since it was read (read it again). */
export class StakeLockMovedError extends DomainError {
  constructor(readonly nodeId: string) {
    super('conflict', 'changed concurrently; try again');
  }
}

/** the ledger's items in a unit of work: an account's balance update, a posting item */
export type LedgerItemKind = 'account-balance' | 'ledger-entry';

interface Leg {
  /** the entry's id: `<posting key>#<leg>` */
  id: string;
  kind: Entry['kind'];
  da: string;
  db: Bucket;
  ca: string;
  cb: Bucket;
  amount: number;
}

interface PostingItem {
  id: string;
  at: number;
  cause: Entry['cause'];
  legs: Leg[];
  /** sort key of the statement indexes: time, then id */
  seqKey: string;
  party1?: string;
  party2?: string;
  sysParty?: 'sys';
}

const SYSTEM = new Set<string>(Object.values(SYSTEM_ACCOUNTS));
const isUser = (a: string) => a !== MINT_SOURCE && !SYSTEM.has(a);
const SYS_PARTY = 'sys';
const seqKey = (at: number, id: string) => `${String(at).padStart(15, '0')}#${id}`;

/** A posting as items of at most two user accounts each (almost always exactly one item). */
function toItems(p: Posting): PostingItem[] {
  const chunks: Entry[][] = [];
  let chunk: Entry[] = [];
  let parties = new Set<string>();
  for (const e of p.entries) {
    const mine = [e.debit.account, e.credit.account].filter(isUser);
    const next = new Set([...parties, ...mine]);
    if (next.size > 2 && chunk.length) {
      chunks.push(chunk);
      chunk = [];
      parties = new Set(mine);
    } else parties = next;
    chunk.push(e);
  }
  if (chunk.length) chunks.push(chunk);
  return chunks.map((entries, i) => {
    const id = i === 0 ? p.key : `${p.key}/part/${i}`;
    const users = [...new Set(entries.flatMap((e) => [e.debit.account, e.credit.account]).filter(isUser))];
    const sys = entries.some((e) => SYSTEM.has(e.debit.account) || SYSTEM.has(e.credit.account));
    return {
      id,
      at: p.at,
      cause: entries[0].cause,
      legs: entries.map((e) => ({ id: e.id, kind: e.kind, da: e.debit.account, db: e.debit.bucket, ca: e.credit.account, cb: e.credit.bucket, amount: e.amount })),
      seqKey: seqKey(p.at, id),
      ...(users[0] ? { party1: users[0] } : {}),
      ...(users[1] ? { party2: users[1] } : {}),
      ...(sys ? { sysParty: SYS_PARTY as 'sys' } : {}),
    };
  });
}

const entriesOf = (i: Record<string, unknown>): Entry[] => {
  const x = i as unknown as PostingItem;
  return x.legs.map((l) => ({ id: l.id, at: x.at, kind: l.kind, debit: { account: l.da, bucket: l.db }, credit: { account: l.ca, bucket: l.cb }, amount: l.amount, cause: x.cause ?? {} }));
};
const touches = (e: Entry, account: string) => e.debit.account === account || e.credit.account === account;

export class LedgerStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly accountsTable: string,
  ) {}

  /**
   * Adds the items that post `postings` to `uow`: one conditional update per account (kind
   * 'account-balance', its subject the account), one put per posting item ('ledger-entry', its id).
   */
  addTo<K extends string>(uow: UnitOfWork<K | LedgerItemKind>, postings: readonly Posting[]): void {
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
      uow.add('account-balance', account, {
        Update: {
          TableName: this.accountsTable,
          Key: { id: { S: account } },
          UpdateExpression: `ADD ${adds.join(', ')}`,
          ...(conditions.length ? { ConditionExpression: conditions.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      });
    }
    for (const p of postings) {
      if (!p.entries.length) continue;
      for (const item of toItems(p))
        uow.add('ledger-entry', item.id, { Put: { TableName: this.table, Item: marshall(item, { removeUndefinedValues: true }), ConditionExpression: 'attribute_not_exists(id)' } });
    }
  }

  /** The transaction items that post `postings` (addTo's, for a look at them). */
  items(postings: readonly Posting[]): { items: TransactWriteItem[] } {
    const uow = new UnitOfWork<LedgerItemKind>();
    this.addTo(uow, postings);
    return { items: uow.items };
  }

  /**
   * Posts on its own, with `nodeLocks` (a node's stake lock item, conditioned on the node's version) in
   * the same transaction. Returns false when the posting was already there (a retry); throws
   * InsufficientFundsError when a debit is not covered, a conflict when a node moved.
   */
  async post(postings: readonly Posting[], nodeLocks: TransactWriteItem[] = []): Promise<boolean> {
    const uow = new UnitOfWork<LedgerItemKind | 'node-lock'>();
    for (const lock of nodeLocks) uow.add('node-lock', lock.Update?.Key?.id?.S ?? '', lock);
    this.addTo(uow, postings);
    try {
      await uow.commit(this.db);
      return true;
    } catch (e) {
      if (!(e instanceof TransactionRefusedError)) throw e;
      const refused = e as TransactionRefusedError<LedgerItemKind | 'node-lock'>;
      const lock = refused.of('node-lock');
      if (lock) throw new StakeLockMovedError(lock.subject);
      if (refused.of('ledger-entry')) return false;
      const short = refused.of('account-balance');
      if (short) throw new InsufficientFundsError(short.subject);
      throw e;
    }
  }

  /** Posting items that name `accountId`, newest first, seqKey below `before` (all of them when `limit` is undefined). */
  private async itemsOf(accountId: string, o: { before?: string; since?: string; limit?: number; newestFirst?: boolean }): Promise<{ items: PostingItem[]; more: boolean }> {
    const indexes: Array<[string, string]> = SYSTEM.has(accountId)
      ? [['bySystem', 'sysParty']]
      : [
          ['byParty1', 'party1'],
          ['byParty2', 'party2'],
        ];
    const partition = SYSTEM.has(accountId) ? SYS_PARTY : accountId;
    let more = false;
    const all = await Promise.all(
      indexes.map(async ([index, attr]) => {
        const out: PostingItem[] = [];
        let start: Record<string, unknown> | undefined;
        do {
          const r = await this.db.send(
            new QueryCommand({
              TableName: this.table,
              IndexName: index,
              KeyConditionExpression: `${attr} = :a` + (o.before ? ' AND seqKey < :c' : o.since ? ' AND seqKey >= :s' : ''),
              ExpressionAttributeValues: { ':a': partition, ...(o.before ? { ':c': o.before } : {}), ...(o.since ? { ':s': o.since } : {}) },
              ScanIndexForward: !o.newestFirst,
              ...(o.limit ? { Limit: o.limit + 1 } : {}),
              ExclusiveStartKey: start,
            }),
          );
          out.push(...((r.Items ?? []) as PostingItem[]));
          start = r.LastEvaluatedKey;
          if (o.limit && start) more = true;
        } while (start && !o.limit);
        return out;
      }),
    );
    const byId = new Map<string, PostingItem>();
    for (const i of all.flat()) byId.set(i.id, i);
    const sorted = [...byId.values()].sort((a, b) => (a.seqKey < b.seqKey ? -1 : a.seqKey > b.seqKey ? 1 : 0));
    return { items: o.newestFirst ? sorted.reverse() : sorted, more };
  }

  /**
   * An account's entries, newest first: the postings that name it (merged from its indexes), `limit`
   * postings a page, each contributing the entries that touch the account. The cursor is a seqKey.
   */
  async statement(accountId: string, limit: number, cursor?: string): Promise<{ items: Entry[]; nextCursor?: string }> {
    const mine = (i: PostingItem) => entriesOf(i as unknown as Record<string, unknown>).filter((e) => touches(e, accountId));
    const collected: PostingItem[] = [];
    let before = cursor;
    // system accounts share one index partition (filtered here): read on until a page is full
    for (let rounds = 0; rounds < 50; rounds++) {
      const r = await this.itemsOf(accountId, { before, limit, newestFirst: true });
      // each index gave its newest limit+1: the newest limit+1 of the merge are certainly the true ones
      const safe = r.more ? r.items.slice(0, limit + 1) : r.items;
      for (const i of safe) if (mine(i).length) collected.push(i);
      if (collected.length > limit || !r.more || !safe.length) break;
      before = safe[safe.length - 1].seqKey;
    }
    const page = collected.slice(0, limit);
    // newest first, and within a posting its last entry first
    const items = page.flatMap((i) => mine(i).reverse());
    return { items, nextCursor: collected.length > limit ? page[page.length - 1].seqKey : undefined };
  }

  /** Entries paying `accountId` since `since` (ms), for finding whom a node served. */
  async creditsSince(accountId: string, since: number): Promise<Entry[]> {
    const { items } = await this.itemsOf(accountId, { since: seqKey(since, '') });
    return items.flatMap((i) => entriesOf(i as unknown as Record<string, unknown>)).filter((e) => e.credit.account === accountId);
  }

  /** An account's entries of one kind on one side, oldest first. */
  async ofKind(accountId: string, on: 'debit' | 'credit', kind: Entry['kind']): Promise<Entry[]> {
    const { items } = await this.itemsOf(accountId, {});
    return items
      .flatMap((i) => entriesOf(i as unknown as Record<string, unknown>))
      .filter((e) => e.kind === kind && (on === 'debit' ? e.debit.account : e.credit.account) === accountId);
  }

  /** The entries of one posting by its key (all its items), empty when it was never posted. */
  async posting(key: string): Promise<Entry[]> {
    const out: Entry[] = [];
    for (let i = 0; ; i++) {
      const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id: i === 0 ? key : `${key}/part/${i}` }, ConsistentRead: true }));
      if (!r.Item) return out;
      out.push(...entriesOf(r.Item));
    }
  }

  /** Every entry (the audit reads them all). */
  async *all(): AsyncGenerator<Entry> {
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(new ScanCommand({ TableName: this.table, ExclusiveStartKey: start }));
      for (const i of r.Items ?? []) yield* entriesOf(i);
      start = r.LastEvaluatedKey;
    } while (start);
  }
}
