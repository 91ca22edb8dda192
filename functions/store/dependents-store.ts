// Who waits for a job (`after`, domain/job/dependencies.ts): one item per job that others wait for,
// `<jobId>#dependents`, holding the waiting jobs' ids as a string set (an id with `#`, which no job id
// has, and no accountId: job lists never show it). The job's own item is never written for this, so
// its writers' versions are untouched. And the held jobs themselves, read back for the safety net: they
// sit in the `queued` index under `h#<shard>` partitions the sweep never reads (jobs-store.ts toItem).
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MAX_DEPENDENTS } from '../domain/job/dependencies';
import { DomainError } from '../domain/errors';
import { isConditionFailure } from './conditions';
import { allShards } from './shard';

export const HELD_PREFIX = 'h#';

const itemId = (jobId: string) => `${jobId}#dependents`;

export class DependentsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Records that `ids` wait for `jobId`; refused (409) when that would pass MAX_DEPENDENTS. */
  async link(jobId: string, ids: readonly string[]): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id: itemId(jobId) },
          UpdateExpression: 'ADD ids :ids',
          ConditionExpression: 'attribute_not_exists(ids) OR size(ids) <= :room',
          ExpressionAttributeValues: { ':ids': new Set(ids), ':room': MAX_DEPENDENTS - ids.length },
        }),
      );
    } catch (e) {
      if (isConditionFailure(e)) throw new DomainError('conflict', `at most ${MAX_DEPENDENTS} jobs may wait for job ${jobId}`);
      throw e;
    }
  }

  /** The jobs waiting for `jobId` (a consistent read: a link written before the job ended is always seen). */
  async of(jobId: string): Promise<string[]> {
    const r = await this.db.send(new GetCommand({ TableName: this.table, Key: { id: itemId(jobId) }, ConsistentRead: true }));
    const ids = r.Item?.ids as Set<string> | undefined;
    return ids ? [...ids] : [];
  }

  /**
   * Up to `perShard` held jobs' ids from each shard, after the per-shard `cursor` (their queue order),
   * wrapping to the start of a shard that has no more. Returns the cursor to pass next time, so that a
   * long list of held jobs is checked in turns, a bounded number per sweep.
   */
  async held(perShard: number, cursor: Record<number, string> = {}): Promise<{ ids: string[]; cursor: Record<number, string> }> {
    const next: Record<number, string> = {};
    const pages = await Promise.all(
      allShards().map(async (s) => {
        const q = (after: string | undefined) =>
          this.db.send(
            new QueryCommand({
              TableName: this.table,
              IndexName: 'queued',
              KeyConditionExpression: 'queueShard = :p' + (after ? ' AND queueOrder > :c' : ''),
              ExpressionAttributeValues: { ':p': `${HELD_PREFIX}${s}`, ...(after ? { ':c': after } : {}) },
              ProjectionExpression: 'id, queueOrder',
              Limit: perShard,
            }),
          );
        let items = (await q(cursor[s])).Items ?? [];
        if (items.length === 0 && cursor[s]) items = (await q(undefined)).Items ?? [];
        if (items.length === perShard) next[s] = items[items.length - 1].queueOrder as string;
        return items.map((i) => i.id as string);
      }),
    );
    return { ids: pages.flat(), cursor: next };
  }
}
