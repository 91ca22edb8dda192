// Webhook delivery attempts and the accounts' signing secrets, in the webhooks table (never on the job
// item: jobs are written with whole-item puts, which would drop any attribute added here).
//  - `job#<jobId>` / `attempt#<nn>`: one item per attempt. Claimed with a conditional put before the POST
//    is sent, so a repeated stream record or SQS message never sends the same attempt twice. A claim whose
//    sender died (still SENDING after the lease) may be taken over: at-least-once, never twice at once.
//  - `secret#<accountId>` / `secret`: the current secret and, for a grace period after a rotation, the one before.
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { isConditionFailure } from './conditions';

export type DeliveryState = 'SENDING' | 'DELIVERED' | 'FAILED';

export interface DeliveryAttempt {
  jobId: string;
  /** 1-based */
  attempt: number;
  state: DeliveryState;
  /** epoch ms the attempt was claimed (sent) */
  at: number;
  /** the receiver's HTTP status, when it answered */
  statusCode?: number;
  /** why there was no 2xx answer: refused address, timeout, connection error */
  error?: string;
  durationMs?: number;
  /** epoch ms of the next attempt when this one failed and attempts remain */
  nextRetryAt?: number;
}

export interface WebhookSecret {
  accountId: string;
  current: string;
  createdAt: number;
  /** the secret before the last rotation, still signed with until previousExpiresAt */
  previous?: string;
  previousExpiresAt?: number;
  rotatedAt?: number;
}

/** Delivery records are kept this long (the job itself stays) */
export const DELIVERY_RETENTION_MS = 30 * 24 * 3600_000;

/** `whsec_` + 32 random bytes, base64url: the whole string is the HMAC key */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

const jobPk = (jobId: string) => `job#${jobId}`;
const attemptSk = (n: number) => `attempt#${String(n).padStart(2, '0')}`;
const secretKey = (accountId: string) => ({ pk: `secret#${accountId}`, sk: 'secret' });

export class WebhooksStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Claims attempt `n` of a job's delivery: true for the one caller that may send it. Taken over only when a
   * claim is still SENDING and older than `leaseMs` (its sender died before recording a result).
   */
  async claim(jobId: string, n: number, now: number, leaseMs: number): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: jobPk(jobId), sk: attemptSk(n), jobId, attempt: n, state: 'SENDING', at: now, expiresAt: Math.floor((now + DELIVERY_RETENTION_MS) / 1000) },
          ConditionExpression: 'attribute_not_exists(pk) OR (#s = :sending AND #at < :stale)',
          ExpressionAttributeNames: { '#s': 'state', '#at': 'at' },
          ExpressionAttributeValues: { ':sending': 'SENDING', ':stale': now - leaseMs },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  /** Records the outcome of the attempt this caller claimed at `claimedAt`; false when another took it over. */
  async record(a: DeliveryAttempt, claimedAt: number): Promise<boolean> {
    const fields: Record<string, unknown> = { ':state': a.state, ':mine': claimedAt };
    const names: Record<string, string> = { '#s': 'state', '#at': 'at' };
    const sets = ['#s = :state'];
    // every name aliased: some (state, error?) are DynamoDB reserved words
    for (const k of ['statusCode', 'error', 'durationMs', 'nextRetryAt'] as const) {
      if (a[k] === undefined) continue;
      sets.push(`#${k} = :${k}`);
      names[`#${k}`] = k;
      fields[`:${k}`] = a[k];
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: jobPk(a.jobId), sk: attemptSk(a.attempt) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: '#at = :mine',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: fields,
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw e;
    }
  }

  async getAttempt(jobId: string, n: number): Promise<DeliveryAttempt | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: jobPk(jobId), sk: attemptSk(n) }, ConsistentRead: true }));
    return r.Item ? toAttempt(r.Item) : undefined;
  }

  /** Every attempt of a job's delivery, first first (at most 11: the schedule's bound). */
  async list(jobId: string): Promise<DeliveryAttempt[]> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :a)',
        ExpressionAttributeValues: { ':pk': jobPk(jobId), ':a': 'attempt#' },
        ConsistentRead: true,
      }),
    );
    return (r.Items ?? []).map(toAttempt);
  }

  /** The account's secret, created on first need (two first callers both get the one that was stored). */
  async secret(accountId: string, now: number): Promise<WebhookSecret> {
    const existing = await this.readSecret(accountId);
    if (existing) return existing;
    const fresh: WebhookSecret = { accountId, current: newWebhookSecret(), createdAt: now };
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: { ...secretKey(accountId), ...fresh }, ConditionExpression: 'attribute_not_exists(pk)' }));
      return fresh;
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      return (await this.readSecret(accountId))!;
    }
  }

  /** Replaces the current secret; the old one stays valid (signed with too) until now + graceMs. */
  async rotate(accountId: string, now: number, graceMs: number): Promise<WebhookSecret> {
    for (let tries = 0; ; tries++) {
      const old = await this.secret(accountId, now);
      const next: WebhookSecret = { accountId, current: newWebhookSecret(), createdAt: old.createdAt, rotatedAt: now };
      if (graceMs > 0) Object.assign(next, { previous: old.current, previousExpiresAt: now + graceMs });
      try {
        // conditioned on the secret read, so two concurrent rotations do not lose one's answer
        await this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...secretKey(accountId), ...next },
            ConditionExpression: '#c = :old',
            ExpressionAttributeNames: { '#c': 'current' },
            ExpressionAttributeValues: { ':old': old.current },
          }),
        );
        return next;
      } catch (e) {
        if (!isConditionFailure(e) || tries >= 4) throw e;
      }
    }
  }

  private async readSecret(accountId: string): Promise<WebhookSecret | undefined> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: secretKey(accountId), ConsistentRead: true }));
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, ...rest } = r.Item;
    return rest as WebhookSecret;
  }
}

function toAttempt(item: Record<string, unknown>): DeliveryAttempt {
  const { pk: _pk, sk: _sk, expiresAt: _e, ...rest } = item;
  return rest as unknown as DeliveryAttempt;
}

/** The secrets to sign with now: the current one, and the previous one while its grace lasts. */
export function signingSecrets(s: WebhookSecret, now: number): string[] {
  return s.previous && (s.previousExpiresAt ?? 0) > now ? [s.current, s.previous] : [s.current];
}
