// Accounts. Their balances change only through the ledger (functions/store/ledger-store.ts), which
// updates them in the same transaction as the entries that explain each change.
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AccountItem, AccountLimits } from '../domain/account-limits';
import type { Account } from '../domain/model';
import { ignoreConditionFailure, isConditionFailure } from './conditions';

export class AccountsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(account: Account): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: account, ConditionExpression: 'attribute_not_exists(id)' }));
  }

  async get(id: string, consistent = true): Promise<Account | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id }, ConsistentRead: consistent }));
    return r.Item as Account | undefined;
  }

  /** The account item with its limits and counters (domain/account-limits.ts). */
  async item(id: string, consistent = true): Promise<AccountItem | undefined> {
    return (await this.get(id, consistent)) as AccountItem | undefined;
  }

  /**
   * Replaces the limits an admin set, if the account's limitsVersion is still `version` (as read); bumps it,
   * so writes conditioned on the old limits try again. False when the account moved meanwhile.
   */
  async setLimits(id: string, limits: Partial<AccountLimits>, version: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id },
          UpdateExpression: 'SET #l = :l, #v = :next',
          ConditionExpression: `attribute_exists(id) AND ${version === 0 ? 'attribute_not_exists(#v)' : '#v = :v'}`,
          ExpressionAttributeNames: { '#l': 'limits', '#v': 'limitsVersion' },
          ExpressionAttributeValues: { ':l': limits, ':next': version + 1, ...(version === 0 ? {} : { ':v': version }) },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Creates the account `make()` describes unless `id` exists (a racing create counts as existing). */
  async ensure(id: string, make: () => Account): Promise<void> {
    if (await this.get(id)) return;
    await this.create(make()).catch(ignoreConditionFailure);
  }

  /** Every account item, system accounts included (the audit reads them all). */
  async *all(): AsyncGenerator<Account> {
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.db.send(new ScanCommand({ TableName: this.table, ExclusiveStartKey: start, ConsistentRead: true }));
      for (const i of r.Items ?? []) yield i as Account;
      start = r.LastEvaluatedKey;
    } while (start);
  }
}
