// Which accounts have queued jobs: one small marker item per such account (`qacct#<accountId>`), all in
// one partition of the `queuedByAccount` index (`queueAccount = qa`, sorted by account id), next to each
// account's own queue in the same index (`queueAccount = acct#<accountId>`, sorted like the queue).
// The sweep reads the markers, then the head of each account's queue, so one account's backlog cannot
// fill the pages it reads (docs/scheduling.md).
//
// Markers are hints, never the truth: the sharded `queued` index is still read too, so a job whose marker
// went missing is placed in global order. A marker is written when a job enters the queue (a conditional
// put that writes nothing when the marker is there) and removed in two steps, so a job queued while the
// sweep looked cannot lose it: the first sweep that finds the account's queue empty stamps `emptySince`;
// any job entering the queue replaces the marker (clearing the stamp); a later sweep deletes it only if
// the queue is still empty, the stamp is unchanged and older than EMPTY_GRACE_MS (the index's lag).
import { DeleteCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ignoreConditionFailure } from './conditions';

export const MARKERS = 'qa';
/** longer than any index lag seen: an account's queue must look empty this long before its marker goes */
export const EMPTY_GRACE_MS = 10_000;

export interface QueueAccount {
  accountId: string;
  emptySince?: number;
}

const markerId = (accountId: string) => `qacct#${accountId}`;

export class QueueAccounts {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  static partitionOf(accountId: string): string {
    return `acct#${accountId}`;
  }

  /** The account has a job in the queue now. */
  async note(accountId: string): Promise<void> {
    await this.db
      .send(
        new PutCommand({
          TableName: this.table,
          Item: { id: markerId(accountId), queueAccount: MARKERS, queueOrder: accountId, queuedAccount: accountId },
          // an existing marker is left alone (no index write), unless it was stamped empty: then it is renewed
          ConditionExpression: 'attribute_not_exists(id) OR attribute_exists(emptySince)',
        }),
      )
      .catch(ignoreConditionFailure);
  }

  /** Up to `limit` accounts with queued jobs, in account-id order after `after` (wrapping to the start). */
  async list(limit: number, after = ''): Promise<QueueAccount[]> {
    const page = (cond: string, values: Record<string, string>, n: number) =>
      this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'queuedByAccount',
          KeyConditionExpression: `queueAccount = :m${cond}`,
          ExpressionAttributeValues: { ':m': MARKERS, ...values },
          Limit: n,
        }),
      );
    const first = await page(after ? ' AND queueOrder > :a' : '', after ? { ':a': after } : {}, limit);
    let items = first.Items ?? [];
    if (after && items.length < limit) items = items.concat((await page(' AND queueOrder <= :a', { ':a': after }, limit - items.length)).Items ?? []);
    return items.map((i) => ({ accountId: String(i.queuedAccount), ...(typeof i.emptySince === 'number' ? { emptySince: i.emptySince } : {}) }));
  }

  /** The sweep found the account's queue empty (`empty`) or not: advance or undo the two-step removal. */
  async observed(a: QueueAccount, empty: boolean, now: number): Promise<void> {
    const Key = { id: markerId(a.accountId) };
    if (!empty) {
      if (a.emptySince === undefined) return;
      await this.db
        .send(new UpdateCommand({ TableName: this.table, Key, UpdateExpression: 'REMOVE emptySince', ConditionExpression: 'emptySince = :e', ExpressionAttributeValues: { ':e': a.emptySince } }))
        .catch(ignoreConditionFailure);
      return;
    }
    if (a.emptySince === undefined) {
      await this.db
        .send(
          new UpdateCommand({
            TableName: this.table,
            Key,
            UpdateExpression: 'SET emptySince = :now',
            ConditionExpression: 'attribute_exists(id) AND attribute_not_exists(emptySince)',
            ExpressionAttributeValues: { ':now': now },
          }),
        )
        .catch(ignoreConditionFailure);
    } else if (now - a.emptySince >= EMPTY_GRACE_MS) {
      await this.db
        .send(new DeleteCommand({ TableName: this.table, Key, ConditionExpression: 'emptySince = :e', ExpressionAttributeValues: { ':e': a.emptySince } }))
        .catch(ignoreConditionFailure);
    }
  }
}
