// Accounts and their balances. Balance changes are conditional updates (never below zero); the ledger
// issue turns them into double-entry postings.
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Account } from '../domain/model';

export class AccountsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(account: Account): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: account, ConditionExpression: 'attribute_not_exists(id)' }));
  }

  async get(id: string): Promise<Account | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id } }));
    return r.Item as Account | undefined;
  }

  async credit(id: string, amount: number): Promise<Account> {
    const r = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { id },
        UpdateExpression: 'ADD available :a',
        ConditionExpression: 'attribute_exists(id)',
        ExpressionAttributeValues: { ':a': amount },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return r.Attributes as Account;
  }
}
