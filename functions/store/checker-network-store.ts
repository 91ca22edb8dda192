// The open checker network in the governance table (pk/sk), beside the licenses it builds on:
//   checkers / <licenseId>                 a registered checker: who runs it, its key, its standing
//   cepoch#<n> / roster                    the epoch's roster, frozen at its first use (assignments follow it)
//   cepoch#<n> / report#<nodeId>#<lic>     one checker's report on one node, at most one (conditional put)
//   cepoch#<n> / badsig#<lic>              reports refused for a signature that did not verify (a counter)
//   cepoch#<n> / verdict#<nodeId>          the node's verdict, written once: whoever writes it applies it
//   cepoch#<n> / score#<lic>               the checker's score for the epoch
//   cepoch#<n> / closed                    the epoch is closed
//   network / cursor                       the last epoch closed
// Items carry no ownerId/operatorId attribute, so none of them enters the license indexes.
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions';
import type { RosterChecker } from '../domain/checker/assignments';
import type { EpochScore, Standing } from '../domain/checker/checker-standing';
import type { NodeVerdict } from '../domain/checker/quorum';
import { queryAll } from './query-all';

export interface CheckerRegistration {
  licenseId: string;
  /** the account that registered it and runs it: the license's owner or operator */
  accountId: string;
  publicKey: string;
  registeredAt: number;
  standing: number;
  strikes: number;
  /** the last epoch scored into standing (absent: none yet) */
  scoredEpoch?: number;
}

export interface EpochRoster {
  epoch: number;
  /** checkers per node */
  k: number;
  checkers: (RosterChecker & { accountId: string })[];
  at: number;
}

/** A checker's epoch as the close recorded it; micro-credits: `reward` its share, `penalty` what it forfeits, `net` what was posted (negative: charged) */
export type ScoreRecord = EpochScore & { reward: number; penalty: number; net: number; posted: boolean; standing: number; suspended: boolean };

export interface StoredReport {
  epoch: number;
  nodeId: string;
  licenseId: string;
  ok: boolean;
  rttMs?: number;
  reason?: string;
  late: boolean;
  at: number;
  /** the checker's signature, kept as the record of what it said */
  signature: string;
}

const CHECKERS = 'checkers';
const epochPk = (e: number) => `cepoch#${e}`;
const strip = <T>(i: Record<string, unknown>): T => {
  const { pk: _pk, sk: _sk, ...rest } = i;
  return rest as T;
};

export class CheckerNetworkStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Registers (or re-keys) a checker, keeping the standing it has. */
  async register(r: Pick<CheckerRegistration, 'licenseId' | 'accountId' | 'publicKey' | 'registeredAt'>): Promise<CheckerRegistration> {
    const out = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: CHECKERS, sk: r.licenseId },
        UpdateExpression: 'SET licenseId = :l, accountId = :a, publicKey = :k, registeredAt = :t, standing = if_not_exists(standing, :s), strikes = if_not_exists(strikes, :z)',
        ExpressionAttributeValues: { ':l': r.licenseId, ':a': r.accountId, ':k': r.publicKey, ':t': r.registeredAt, ':s': 1, ':z': 0 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return strip<CheckerRegistration>(out.Attributes!);
  }

  async registration(licenseId: string): Promise<CheckerRegistration | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: CHECKERS, sk: licenseId }, ConsistentRead: true }));
    return r.Item ? strip<CheckerRegistration>(r.Item) : undefined;
  }

  /** Every registered checker: one partition, bounded by the license supply. */
  async registrations(): Promise<CheckerRegistration[]> {
    const items = await queryAll(this.db, { TableName: this.table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': CHECKERS }, ConsistentRead: true });
    return items.map((i) => strip<CheckerRegistration>(i));
  }

  /** Standing after epoch `epoch`, once: false when that epoch (or a later one) was already scored. */
  async scoreInto(licenseId: string, epoch: number, s: Standing): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: CHECKERS, sk: licenseId },
          UpdateExpression: 'SET standing = :s, strikes = :k, scoredEpoch = :e',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(scoredEpoch) OR scoredEpoch < :e)',
          ExpressionAttributeValues: { ':s': s.standing, ':k': s.strikes, ':e': epoch },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /**
   * A reinstated license starts without the strikes that suspended it (its standing stays, earned back
   * epoch by epoch); only strikes at the suspension count are cleared, so repeating the reinstatement
   * later does not wipe strikes earned since. False: no registration, or nothing to clear.
   */
  async clearSuspendingStrikes(licenseId: string, atLeast: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: CHECKERS, sk: licenseId },
          UpdateExpression: 'SET strikes = :z',
          ConditionExpression: 'attribute_exists(pk) AND strikes >= :n',
          ExpressionAttributeValues: { ':z': 0, ':n': atLeast },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async roster(epoch: number): Promise<EpochRoster | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: epochPk(epoch), sk: 'roster' }, ConsistentRead: true }));
    return r.Item ? strip<EpochRoster>(r.Item) : undefined;
  }

  /** Freezes the epoch's roster; of two at once the first written is the roster (returned either way). */
  async freezeRoster(r: EpochRoster): Promise<EpochRoster> {
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: { pk: epochPk(r.epoch), sk: 'roster', ...r }, ConditionExpression: 'attribute_not_exists(pk)' }));
      return r;
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      return (await this.roster(r.epoch))!;
    }
  }

  /** One report per (epoch, node, checker): false when there already is one (a replay or a second report). */
  async putReport(r: StoredReport): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({ TableName: this.table, Item: { pk: epochPk(r.epoch), sk: `report#${r.nodeId}#${r.licenseId}`, ...r }, ConditionExpression: 'attribute_not_exists(pk)' }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async reports(epoch: number): Promise<StoredReport[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':p': epochPk(epoch), ':s': 'report#' },
      ConsistentRead: true,
    });
    return items.map((i) => strip<StoredReport>(i));
  }

  async addBadSignature(epoch: number, licenseId: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({ TableName: this.table, Key: { pk: epochPk(epoch), sk: `badsig#${licenseId}` }, UpdateExpression: 'SET licenseId = :l ADD n :one', ExpressionAttributeValues: { ':l': licenseId, ':one': 1 } }),
    );
  }

  async badSignatures(epoch: number): Promise<Map<string, number>> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':p': epochPk(epoch), ':s': 'badsig#' },
      ConsistentRead: true,
    });
    return new Map(items.map((i) => [i.licenseId as string, i.n as number]));
  }

  /** Writes the node's verdict once: true for the one writer that must apply it. */
  async putVerdict(epoch: number, nodeId: string, v: NodeVerdict, at: number): Promise<boolean> {
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: { pk: epochPk(epoch), sk: `verdict#${nodeId}`, nodeId, ...v, at }, ConditionExpression: 'attribute_not_exists(pk)' }));
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async putScore(epoch: number, s: ScoreRecord): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: { pk: epochPk(epoch), sk: `score#${s.licenseId}`, epoch, ...s } }));
  }

  async scores(epoch: number): Promise<ScoreRecord[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':p': epochPk(epoch), ':s': 'score#' },
      ConsistentRead: true,
    });
    return items.map((i) => strip(i));
  }

  async closedThrough(): Promise<number | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: 'network', sk: 'cursor' }, ConsistentRead: true }));
    return r.Item?.epoch as number | undefined;
  }

  /** Marks `epoch` closed and moves the cursor forward (never back). */
  async markClosed(epoch: number, at: number): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: { pk: epochPk(epoch), sk: 'closed', at } }));
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: 'network', sk: 'cursor' },
          UpdateExpression: 'SET epoch = :e, #at = :t',
          ConditionExpression: 'attribute_not_exists(epoch) OR epoch < :e',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':e': epoch, ':t': at },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
  }
}
