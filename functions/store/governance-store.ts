// Checker licenses, proposals, votes and the parameters in force, in the governance table (pk/sk).
//   license#<id> / license          the license (ownerId, operatorId: the two listing indexes)
//   license#<id> / period#<seq>     its history: who held and operated it from when to when
//   licenses / supply               how many were ever minted (the supply cap's counter)
//   proposal#<id> / proposal        a proposal and its tally (pendingKey/dueAt while open or passed)
//   proposal#<id> / vote#<account>  one account's vote, at most one
//   parameters / current            the values enacted proposals set (absent: the deployment's)
//   parameters / enacted#<at>#<id>  each enactment: before and after
// Every change is one transaction with its history record, conditioned on what was read.
import { queryAll } from './query-all';
import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conflict } from '../domain/errors';
import { TransactionRefusedError, UnitOfWork, type NativeWriteItem } from './unit-of-work';
import type { License, LicensePeriod } from '../domain/governance/licenses';
import type { ParameterChanges } from '../domain/governance/parameters';
import type { Proposal, ProposalStatus, Vote } from '../domain/governance/proposals';

const LICENSE = 'license';
const licensePk = (id: string) => `license#${id}`;
const periodSk = (seq: number) => `period#${String(seq).padStart(8, '0')}`;
const proposalPk = (id: string) => `proposal#${id}`;
const PENDING = 'p';

export interface Enactment {
  proposalId: string;
  at: number;
  changes: ParameterChanges;
  before: ParameterChanges;
  after: ParameterChanges;
}

/** the items of governance transactions (unit-of-work.ts) */
type GovernanceItemKind = 'supply' | 'license' | 'period' | 'proposal' | 'vote' | 'parameters' | 'enactment';
/** an item with its kind and subject (a license or proposal id) */
type Tagged = [GovernanceItemKind, string, NativeWriteItem];

/**
 * Runs a transaction; a refused condition is `false`; a conflict with another transaction in flight on
 * the same items (DynamoDB cancels both sides' overlap) is tried again, a few times, since it says nothing
 * about the outcome.
 */
async function transact(db: DynamoDBDocumentClient, items: readonly Tagged[]): Promise<boolean> {
  const uow = new UnitOfWork<GovernanceItemKind>();
  for (const [kind, subject, item] of items) uow.addNative(kind, subject, item);
  try {
    await uow.commit(db, { conflictRetries: 8 });
    return true;
  } catch (e) {
    if (e instanceof TransactionRefusedError) return false;
    throw e;
  }
}

const stripLicense = (i: Record<string, unknown>): License => {
  const { pk: _pk, sk: _sk, ...rest } = i;
  return rest as unknown as License;
};
const stripProposal = (i: Record<string, unknown>): Proposal => {
  const { pk: _pk, sk: _sk, pendingKey: _p, dueAt: _d, ...rest } = i;
  return rest as unknown as Proposal;
};

export class GovernanceStore {
  constructor(
    /** public: the checker network's store shares the table (functions/store/checker-network-store.ts) */
    readonly db: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  // ---- licenses

  /**
   * Mints `licenses` (each with its first history period) and counts them against the supply in one
   * transaction: the counter's condition refuses a mint that would pass `supply`, however many run at once.
   * False: the supply does not have room.
   */
  async mint(licenses: readonly License[], periods: readonly LicensePeriod[], supply: number): Promise<boolean> {
    const room = supply - licenses.length;
    if (room < 0) return false;
    return transact(this.db, [
      [
        'supply',
        'licenses',
        {
          Update: {
            TableName: this.table,
            Key: { pk: 'licenses', sk: 'supply' },
            UpdateExpression: 'ADD minted :n',
            ConditionExpression: 'attribute_not_exists(minted) OR minted <= :room',
            ExpressionAttributeValues: { ':n': licenses.length, ':room': room },
          },
        },
      ],
      ...licenses.map((l): Tagged => ['license', l.id, { Put: { TableName: this.table, Item: { pk: licensePk(l.id), sk: LICENSE, ...l }, ConditionExpression: 'attribute_not_exists(pk)' } }]),
      ...periods.map((p): Tagged => ['period', p.licenseId, { Put: { TableName: this.table, Item: { pk: licensePk(p.licenseId), sk: periodSk(p.seq), period: p }, ConditionExpression: 'attribute_not_exists(pk)' } }]),
    ]);
  }

  async minted(): Promise<number> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: 'licenses', sk: 'supply' }, ConsistentRead: true }));
    return (r.Item?.minted as number | undefined) ?? 0;
  }

  async license(id: string): Promise<License | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: licensePk(id), sk: LICENSE }, ConsistentRead: true }));
    return r.Item ? stripLicense(r.Item) : undefined;
  }

  /**
   * Replaces `before` by `after` (version + 1) under `before`'s version, closes the open period at `at`
   * and opens `period`, all in one transaction. False: the license changed since it was read.
   */
  async change(before: License, after: License, period: LicensePeriod, at: number): Promise<boolean> {
    if (after.version !== before.version + 1 || period.seq !== after.version) throw new Error('a license change is one version');
    const { operatorId, ...rest } = after;
    return transact(this.db, [
      [
        'license',
        after.id,
        {
          Put: {
            TableName: this.table,
            Item: { pk: licensePk(after.id), sk: LICENSE, ...rest, ...(operatorId ? { operatorId } : {}) },
            ConditionExpression: 'version = :v',
            ExpressionAttributeValues: { ':v': before.version },
          },
        },
      ],
      [
        'period',
        before.id,
        {
          Update: {
            TableName: this.table,
            Key: { pk: licensePk(before.id), sk: periodSk(before.version) },
            UpdateExpression: 'SET period.#to = :at',
            ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(period.#to)',
            ExpressionAttributeNames: { '#to': 'to' },
            ExpressionAttributeValues: { ':at': at },
          },
        },
      ],
      ['period', after.id, { Put: { TableName: this.table, Item: { pk: licensePk(after.id), sk: periodSk(period.seq), period }, ConditionExpression: 'attribute_not_exists(pk)' } }],
    ]);
  }

  async history(id: string): Promise<LicensePeriod[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': licensePk(id), ':p': 'period#' },
      ConsistentRead: true,
    });
    return items.map((i) => i.period as LicensePeriod);
  }

  /** Licenses the account holds (`owner`) or operates (`operator`), by id; read from an index (eventually consistent). */
  async licensesOf(accountId: string, as: 'owner' | 'operator'): Promise<License[]> {
    const [index, attr] = as === 'owner' ? ['licensesByOwner', 'ownerId'] : ['licensesByOperator', 'operatorId'];
    const items = await queryAll(this.db, { TableName: this.table, IndexName: index, KeyConditionExpression: `${attr} = :a`, ExpressionAttributeValues: { ':a': accountId } });
    return items.map(stripLicense);
  }

  // ---- proposals and votes

  async createProposal(p: Proposal): Promise<void> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [{ Put: { TableName: this.table, Item: { pk: proposalPk(p.id), sk: 'proposal', ...p, pendingKey: PENDING, dueAt: p.votingEndsAt }, ConditionExpression: 'attribute_not_exists(pk)' } }],
      }),
    );
  }

  async proposal(id: string): Promise<Proposal | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: proposalPk(id), sk: 'proposal' }, ConsistentRead: true }));
    return r.Item ? stripProposal(r.Item) : undefined;
  }

  async vote(proposalId: string, accountId: string): Promise<Vote | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: proposalPk(proposalId), sk: `vote#${accountId}` }, ConsistentRead: true }));
    return r.Item?.vote as Vote | undefined;
  }

  /**
   * Records a vote and adds it to the tally in one transaction: the vote item only if the account has none
   * on this proposal, the tally only while the proposal is open and its window has not closed at `v.at`.
   * 'voted': the account had voted already; 'closed': the proposal is no longer open.
   */
  async castVote(v: Vote): Promise<'ok' | 'voted' | 'closed'> {
    const ok = await transact(this.db, [
      ['vote', v.accountId, { Put: { TableName: this.table, Item: { pk: proposalPk(v.proposalId), sk: `vote#${v.accountId}`, vote: v }, ConditionExpression: 'attribute_not_exists(pk)' } }],
      [
        'proposal',
        v.proposalId,
        {
          Update: {
            TableName: this.table,
            Key: { pk: proposalPk(v.proposalId), sk: 'proposal' },
            UpdateExpression: 'ADD tally.#c :w, tally.voters :one',
            ConditionExpression: '#s = :open AND votingEndsAt > :at',
            ExpressionAttributeNames: { '#c': v.choice, '#s': 'status' },
            ExpressionAttributeValues: { ':w': v.weight, ':one': 1, ':open': 'open', ':at': v.at },
          },
        },
      ],
    ]);
    if (ok) return 'ok';
    return (await this.vote(v.proposalId, v.accountId)) ? 'voted' : 'closed';
  }

  async votes(proposalId: string): Promise<Vote[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :v)',
      ExpressionAttributeValues: { ':pk': proposalPk(proposalId), ':v': 'vote#' },
    });
    return items.map((i) => i.vote as Vote);
  }

  /** Open proposals whose window closed and passed ones whose delay ran, by `now` (oldest first). */
  async due(now: number, limit = 50): Promise<Proposal[]> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'pending',
        KeyConditionExpression: 'pendingKey = :p AND dueAt <= :now',
        ExpressionAttributeValues: { ':p': PENDING, ':now': now },
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map(stripProposal);
  }

  /**
   * Closes an open proposal whose window ended, on the tally it was decided on (a vote landing meanwhile
   * refuses the close; the next run decides again). A passed one stays pending until `enactAfter`.
   */
  async close(p: Proposal, outcome: 'passed' | 'rejected', at: number): Promise<boolean> {
    return transact(this.db, [
      [
        'proposal',
        p.id,
        {
          Update: {
            TableName: this.table,
            Key: { pk: proposalPk(p.id), sk: 'proposal' },
            UpdateExpression: outcome === 'passed' ? 'SET #s = :o, closedAt = :at, dueAt = :due' : 'SET #s = :o, closedAt = :at REMOVE pendingKey, dueAt',
            ConditionExpression: '#s = :open AND votingEndsAt <= :at AND tally.yes = :yes AND tally.#no = :no',
            ExpressionAttributeNames: { '#s': 'status', '#no': 'no' },
            ExpressionAttributeValues: { ':o': outcome, ':at': at, ':open': 'open', ':yes': p.tally.yes, ':no': p.tally.no, ...(outcome === 'passed' ? { ':due': p.enactAfter } : {}) },
          },
        },
      ],
    ]);
  }

  /**
   * Enacts a passed proposal whose delay ran: the parameters in force (under the version read), the
   * proposal (passed → enacted: a second enactment finds it enacted and writes nothing) and the record of
   * the enactment, in one transaction.
   */
  async enact(p: Proposal, current: { values: ParameterChanges; version: number }, e: Enactment): Promise<boolean> {
    return transact(this.db, [
      [
        'parameters',
        'current',
        {
          Put: {
            TableName: this.table,
            Item: { pk: 'parameters', sk: 'current', values: e.after, version: current.version + 1, updatedAt: e.at, proposalId: p.id },
            ConditionExpression: current.version === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
            ...(current.version === 0 ? {} : { ExpressionAttributeValues: { ':v': current.version } }),
          },
        },
      ],
      [
        'proposal',
        p.id,
        {
          Update: {
            TableName: this.table,
            Key: { pk: proposalPk(p.id), sk: 'proposal' },
            UpdateExpression: 'SET #s = :enacted, enactedAt = :at REMOVE pendingKey, dueAt',
            ConditionExpression: '#s = :passed AND enactAfter <= :at',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':enacted': 'enacted', ':passed': 'passed', ':at': e.at },
          },
        },
      ],
      ['enactment', p.id, { Put: { TableName: this.table, Item: { pk: 'parameters', sk: `enacted#${String(e.at).padStart(15, '0')}#${p.id}`, ...e }, ConditionExpression: 'attribute_not_exists(pk)' } }],
    ]);
  }

  /** Admin veto: an open or passed proposal becomes vetoed and leaves the schedule's view. */
  async veto(id: string, at: number): Promise<boolean> {
    return transact(this.db, [
      [
        'proposal',
        id,
        {
          Update: {
            TableName: this.table,
            Key: { pk: proposalPk(id), sk: 'proposal' },
            UpdateExpression: 'SET #s = :vetoed, vetoedAt = :at REMOVE pendingKey, dueAt',
            ConditionExpression: '#s IN (:open, :passed)',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':vetoed': 'vetoed', ':at': at, ':open': 'open', ':passed': 'passed' },
          },
        },
      ],
    ]);
  }

  // ---- parameters

  async parameters(): Promise<{ values: ParameterChanges; version: number; updatedAt?: number; proposalId?: string }> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: 'parameters', sk: 'current' }, ConsistentRead: true }));
    if (!r.Item) return { values: {}, version: 0 };
    return { values: r.Item.values as ParameterChanges, version: r.Item.version as number, updatedAt: r.Item.updatedAt as number, proposalId: r.Item.proposalId as string };
  }

  async enactments(limit = 50): Promise<Enactment[]> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :e)',
        ExpressionAttributeValues: { ':pk': 'parameters', ':e': 'enacted#' },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (r.Items ?? []).map(({ pk: _pk, sk: _sk, ...e }) => e as unknown as Enactment);
  }
}

/** For callers that read the proposal's status after a refused change. */
export const statusConflict = (s: ProposalStatus) => conflict(`the proposal is ${s}`);
