// API keys and node keys. Only the SHA-256 of the secret is stored; the key id is the item's key.
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { formatApiKey, hashSecret, parseApiKey, REGISTRATION_KEY_PREFIX, secretMatches } from '../domain/api-key';
import type { Caller, Role } from '../domain/model';
import { isConditionFailure } from './conditions';

export interface KeyRecord {
  id: string;
  accountId: string;
  role: Role;
  nodeId?: string;
  hash: string;
  createdAt: number;
  revokedAt?: number;
  /** when the authorizer last resolved it, to the minute: written at most once a minute per key */
  lastUsedAt?: number;
  /** a one-time registration token (burst instances): valid until `notAfter` (epoch ms) and only until consumed */
  singleUse?: boolean;
  notAfter?: number;
  consumedAt?: number;
  /** a node key whose node has its own API Gateway usage key: set once that key is in the agent usage plan */
  ownUsageKey?: boolean;
}

/** lastUsedAt is kept to this precision: one conditional write per key and minute at most */
export const LAST_USED_PRECISION_MS = 60_000;

export const newKeyId = () => randomBytes(8).toString('hex');
/** 192 bits, base64url */
export const newSecret = () => randomBytes(24).toString('base64url');

export class KeysStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Creates a key and returns it in full: the only time the secret exists outside the caller's hands. */
  async issue(p: { accountId: string; role: Role; nodeId?: string; now: number; keyId?: string; secret?: string }): Promise<{ record: KeyRecord; apiKey: string }> {
    const keyId = p.keyId ?? newKeyId();
    const secret = p.secret ?? newSecret();
    const record: KeyRecord = { id: keyId, accountId: p.accountId, role: p.role, nodeId: p.nodeId, hash: hashSecret(secret), createdAt: p.now };
    await this.db.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: 'attribute_not_exists(id)' }));
    return { record, apiKey: formatApiKey(keyId, secret) };
  }

  /**
   * Resolves a raw key into its caller, or undefined for malformed, unknown, wrong or revoked keys.
   * It runs only when the authorizer's cache misses (≤ once per key and TTL), and notes the use then.
   */
  async resolve(raw: string, now = Date.now()): Promise<Caller | undefined> {
    const parsed = parseApiKey(raw);
    if (!parsed) return undefined;
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id: parsed.keyId } }));
    const rec = r.Item as KeyRecord | undefined;
    if (!rec || rec.revokedAt || !secretMatches(parsed.secret, rec.hash)) return undefined;
    if (rec.singleUse && (rec.consumedAt !== undefined || (rec.notAfter ?? 0) <= now)) return undefined;
    // the read tells whether a write is due, so a key in steady use costs no failed conditional writes
    if (!(rec.lastUsedAt !== undefined && rec.lastUsedAt > now - LAST_USED_PRECISION_MS)) await this.touch(rec.id, now).catch(() => undefined);
    return { accountId: rec.accountId, role: rec.role, keyId: rec.id, ...(rec.nodeId ? { nodeId: rec.nodeId } : {}), ...(rec.ownUsageKey ? { ownUsageKey: true } : {}) };
  }

  /** Marks a node key as metered by its node's own usage key (only after that key is in the usage plan: API Gateway refuses unknown ones). */
  async markOwnUsageKey(keyId: string): Promise<void> {
    await this.db.send(new UpdateCommand({ TableName: this.table, Key: { id: keyId }, UpdateExpression: 'SET ownUsageKey = :t', ConditionExpression: 'attribute_exists(id)', ExpressionAttributeValues: { ':t': true } }));
  }

  /**
   * Issues a one-time registration token for `accountId` (a provider): it may register one node, before
   * `notAfter`. Its id starts with REGISTRATION_KEY_PREFIX, which no ordinary (hex) key id can.
   */
  async issueRegistrationToken(p: { accountId: string; now: number; ttlMs: number }): Promise<{ record: KeyRecord; apiKey: string }> {
    const keyId = `${REGISTRATION_KEY_PREFIX}${newKeyId()}`;
    const secret = newSecret();
    const record: KeyRecord = { id: keyId, accountId: p.accountId, role: 'provider', hash: hashSecret(secret), createdAt: p.now, singleUse: true, notAfter: p.now + p.ttlMs };
    await this.db.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: 'attribute_not_exists(id)' }));
    return { record, apiKey: formatApiKey(keyId, secret) };
  }

  /** Spends a registration token: true for exactly one caller, however many race, and only before it expires. */
  async consumeRegistrationToken(keyId: string, now: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id: keyId },
          UpdateExpression: 'SET consumedAt = :n',
          ConditionExpression: 'singleUse = :t AND attribute_not_exists(consumedAt) AND attribute_not_exists(revokedAt) AND notAfter > :n',
          ExpressionAttributeValues: { ':n': now, ':t': true },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async get(keyId: string): Promise<KeyRecord | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id: keyId } }));
    return r.Item as KeyRecord | undefined;
  }

  async listByAccount(accountId: string): Promise<KeyRecord[]> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'byAccount',
        KeyConditionExpression: 'accountId = :a',
        ExpressionAttributeValues: { ':a': accountId },
        ScanIndexForward: false,
      }),
    );
    return (r.Items ?? []) as KeyRecord[];
  }

  /** Sets lastUsedAt unless it is already within the last minute (the condition settles races). */
  async touch(keyId: string, now: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id: keyId },
          UpdateExpression: 'SET lastUsedAt = :n',
          ConditionExpression: 'attribute_exists(id) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt <= :cutoff)',
          ExpressionAttributeValues: { ':n': now, ':cutoff': now - LAST_USED_PRECISION_MS },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async revoke(keyId: string, now: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { id: keyId },
        UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :n)',
        ConditionExpression: 'attribute_exists(id)',
        ExpressionAttributeValues: { ':n': now },
      }),
    );
  }
}
