// Each account's secrets, in the secrets table: `accountId` / `name`, holding only the sealed value
// (secret-cipher.ts), its version and times. An account's count rides on its own item (`accountId` /
// `#count`; `#` never starts a secret's name) and moves in the same transaction as a new name or a
// delete, so the per-account limit holds under concurrent requests.
import { queryAll } from './query-all';
import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions';

export interface SecretItem {
  accountId: string;
  name: string;
  version: number;
  /** when this version was set */
  createdAt: number;
  /** when the name was first set */
  firstCreatedAt: number;
  sealed: string;
}
export type SecretMeta = Omit<SecretItem, 'sealed' | 'accountId'>;

const COUNT = '#count';
const isCancelledForCondition = (e: unknown) =>
  (e as Error).name === 'TransactionCanceledException' && ((e as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');

export class SecretsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Sets `name` to `sealed`: a new version of an existing secret, or a new secret while the account holds
   * fewer than `max`. Returns the stored version, or 'limit' when a new name would exceed `max`.
   */
  async put(accountId: string, name: string, sealed: string, now: number, max: number): Promise<SecretMeta | 'limit'> {
    for (let round = 0; round < 4; round++) {
      const updated = await this.replace(accountId, name, sealed, now);
      if (updated) return updated;
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.table,
                  Item: { accountId, name, version: 1, createdAt: now, firstCreatedAt: now, sealed },
                  ConditionExpression: 'attribute_not_exists(#n)',
                  ExpressionAttributeNames: { '#n': 'name' },
                },
              },
              {
                Update: {
                  TableName: this.table,
                  Key: { accountId, name: COUNT },
                  UpdateExpression: 'ADD #c :one',
                  ConditionExpression: 'attribute_not_exists(#c) OR #c < :max',
                  ExpressionAttributeNames: { '#c': 'count' },
                  ExpressionAttributeValues: { ':one': 1, ':max': max },
                },
              },
            ],
          }),
        );
        return { name, version: 1, createdAt: now, firstCreatedAt: now };
      } catch (e) {
        if (!isCancelledForCondition(e)) throw e;
        // either the name appeared meanwhile (replace it next round) or the account is full
        if (!(await this.get(accountId, name))) {
          const c = await this.db.send(new GetCommand({ TableName: this.table, Key: { accountId, name: COUNT }, ConsistentRead: true }));
          if (((c.Item?.count as number | undefined) ?? 0) >= max) return 'limit';
        }
      }
    }
    throw new Error('secret write kept racing; try again');
  }

  /** A new version of an existing secret; undefined when there is none. */
  private async replace(accountId: string, name: string, sealed: string, now: number): Promise<SecretMeta | undefined> {
    try {
      const r = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { accountId, name },
          UpdateExpression: 'SET sealed = :s, createdAt = :now ADD version :one',
          ConditionExpression: 'attribute_exists(#n)',
          ExpressionAttributeNames: { '#n': 'name' },
          ExpressionAttributeValues: { ':s': sealed, ':now': now, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const a = r.Attributes as SecretItem;
      return { name: a.name, version: a.version, createdAt: a.createdAt, firstCreatedAt: a.firstCreatedAt };
    } catch (e) {
      if (isConditionFailure(e)) return undefined;
      throw e;
    }
  }

  async get(accountId: string, name: string): Promise<SecretItem | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { accountId, name }, ConsistentRead: true }));
    return r.Item && r.Item.name !== COUNT ? (r.Item as SecretItem) : undefined;
  }

  /** The account's secrets without their sealed values, by name. */
  async list(accountId: string): Promise<SecretMeta[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'accountId = :a',
      ExpressionAttributeValues: { ':a': accountId },
      ProjectionExpression: '#n, version, createdAt, firstCreatedAt',
      ExpressionAttributeNames: { '#n': 'name' },
    });
    return items.filter((i) => i.name !== COUNT) as unknown as SecretMeta[];
  }

  /** Deletes the secret; false when there was none. */
  async delete(accountId: string, name: string): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: { TableName: this.table, Key: { accountId, name }, ConditionExpression: 'attribute_exists(#n)', ExpressionAttributeNames: { '#n': 'name' } } },
            { Update: { TableName: this.table, Key: { accountId, name: COUNT }, UpdateExpression: 'ADD #c :minus', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':minus': -1 } } },
          ],
        }),
      );
      return true;
    } catch (e) {
      if (isCancelledForCondition(e)) return false;
      throw e;
    }
  }
}

