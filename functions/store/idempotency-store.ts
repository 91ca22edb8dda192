// Idempotency records for creating POSTs: the first request claims the key with a conditional put;
// repeats within 24 h get the stored response, or 422 if they carry another body.
import { GetCommand, PutCommand, UpdateCommand, DeleteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions';

export interface IdempotencyRecord {
  key: string;
  bodyHash: string;
  state: 'IN_PROGRESS' | 'COMPLETED';
  response?: { statusCode: number; body: string };
  /** epoch seconds: an IN_PROGRESS claim past this ended without a recorded answer */
  lockedUntil: number;
  expiresAt: number;
}

const TTL_S = 24 * 3600;
/**
 * An IN_PROGRESS claim is never taken over: its request may have committed before its Lambda died or
 * before its answer could be written, and a second run would mint or submit twice. Past this lock (the
 * API's 29 s limit and a margin) a duplicate is told at once that the outcome is unknown.
 */
const LOCK_S = 30;

export class IdempotencyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** True if this request now owns the key; false if another request holds or completed it. */
  async claim(key: string, bodyHash: string, now: number): Promise<boolean> {
    const nowS = Math.floor(now / 1000);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { key, bodyHash, state: 'IN_PROGRESS', lockedUntil: nowS + LOCK_S, expiresAt: nowS + TTL_S },
          ConditionExpression: 'attribute_not_exists(#k) OR expiresAt < :now',
          ExpressionAttributeNames: { '#k': 'key' },
          ExpressionAttributeValues: { ':now': nowS },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async get(key: string): Promise<IdempotencyRecord | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { key }, ConsistentRead: true }));
    return r.Item as IdempotencyRecord | undefined;
  }

  async complete(key: string, response: { statusCode: number; body: string }): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { key },
        UpdateExpression: 'SET #s = :c, #r = :r',
        ExpressionAttributeNames: { '#s': 'state', '#r': 'response' },
        ExpressionAttributeValues: { ':c': 'COMPLETED', ':r': response },
      }),
    );
  }

  /** A refused request releases its key so a retry can run it again. */
  async release(key: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { key } }));
  }
}
