// Each account's uploaded files in the files table (`accountId` / `id`): what GET /v1/files lists, and the
// submits that named each file as an input (`holds`: holder id → when). A submit's claim and a delete's
// mark are conditional writes on this one item, so a delete either sees the submit's hold or makes the
// submit fail: a file never vanishes from under a job that was accepted naming it (docs/data.md, Files).
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions';
import { decodeCursor, encodeCursor } from './cursor';

export interface FileItem {
  accountId: string;
  id: string;
  name: string;
  size: number;
  sha256: string;
  createdAt: number;
  /** epoch seconds: the item goes when the bucket's lifecycle rule removes the bytes */
  expiresAt: number;
  /** submits (a job's, a replicated job's or an array's id) that named this file, and when */
  holds: Record<string, number>;
  /** moved by every claim, so a delete's conditional write sees any claim made since it read */
  claims: number;
  /** set by a delete that found no live holder: no claim succeeds from then on */
  deletingAt?: number;
}

export class FileItemsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(f: Omit<FileItem, 'holds' | 'claims'>): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: { ...f, holds: {}, claims: 0 }, ConditionExpression: 'attribute_not_exists(id)' }));
  }

  async get(accountId: string, id: string): Promise<FileItem | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { accountId, id }, ConsistentRead: true }));
    return r.Item as FileItem | undefined;
  }

  /** One page of the account's files, newest first (ids are ulids); the cursor is bound to the account. */
  async page(accountId: string, limit: number, cursor?: string): Promise<{ items: FileItem[]; nextCursor?: string }> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'accountId = :a',
        ExpressionAttributeValues: { ':a': accountId },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, { accountId }, { accountId: 'string', id: 'string' }),
      }),
    );
    return { items: (r.Items ?? []) as FileItem[], nextCursor: encodeCursor(r.LastEvaluatedKey) };
  }

  /** Records `holder` on the file unless it is missing or being deleted; false then. */
  async claim(accountId: string, id: string, holder: string, now: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { accountId, id },
          UpdateExpression: 'SET holds.#h = :now ADD claims :one',
          ConditionExpression: 'attribute_exists(id) AND attribute_not_exists(deletingAt)',
          ExpressionAttributeNames: { '#h': holder },
          ExpressionAttributeValues: { ':now': now, ':one': 1 },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Takes back a claim whose submit wrote no job (refused after the claim). */
  async release(accountId: string, id: string, holder: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({ TableName: this.table, Key: { accountId, id }, UpdateExpression: 'REMOVE holds.#h', ConditionExpression: 'attribute_exists(id)', ExpressionAttributeNames: { '#h': holder } }),
    ).catch((e) => {
      if (!isConditionFailure(e)) throw e;
    });
  }

  /** Drops holders found ended, if no claim came since `claims` was read; false when one did. */
  async prune(accountId: string, id: string, holders: readonly string[], claims: number): Promise<boolean> {
    if (holders.length === 0) return true;
    const names = Object.fromEntries(holders.map((h, i) => [`#h${i}`, h]));
    return this.conditional({
      UpdateExpression: `REMOVE ${holders.map((_, i) => `holds.#h${i}`).join(', ')}`,
      ConditionExpression: 'claims = :c AND attribute_not_exists(deletingAt)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':c': claims },
    }, accountId, id);
  }

  /** Marks the file as being deleted, if no claim came since `claims` was read; false when one did. */
  async markDeleting(accountId: string, id: string, claims: number, now: number): Promise<boolean> {
    return this.conditional({
      UpdateExpression: 'SET deletingAt = :now',
      ConditionExpression: 'claims = :c AND attribute_not_exists(deletingAt)',
      ExpressionAttributeValues: { ':c': claims, ':now': now },
    }, accountId, id);
  }

  async remove(accountId: string, id: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { accountId, id } }));
  }

  private async conditional(
    u: { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues: Record<string, unknown> },
    accountId: string,
    id: string,
  ): Promise<boolean> {
    try {
      await this.db.send(new UpdateCommand({ TableName: this.table, Key: { accountId, id }, ...u }));
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }
}
