// Accounts. Their balances change only through the ledger (functions/store/ledger-store.ts), which
// updates them in the same transaction as the entries that explain each change.
import { GetCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Account } from '../domain/model';
import { ignoreConditionFailure } from './conditions';

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
