// How long recent jobs waited from submit to running, per node: one helper item `startlat#<nodeId>` in the
// jobs table (`#` in the id, no accountId: never listed as a job) holding the last samples as a list of
// `[ms, atMs]`, oldest first. An append is conditioned on the list being shorter than MAX_SAMPLES; a full
// list first drops its TRIM oldest (so a write is one UpdateItem, now and then three).
// GET /v1/offers reads the items of the nodes it lists (docs/scheduling.md, Queue position).
import { BatchGetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './conditions';

export const MAX_SAMPLES = 32;
const TRIM = 8;
const itemId = (nodeId: string) => `startlat#${nodeId}`;

export class StartStatsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** One start: `ms` from the job's submit to its first attempt running on `nodeId`, at `at`. */
  async record(nodeId: string, ms: number, at: number): Promise<void> {
    const append = () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { id: itemId(nodeId) },
          UpdateExpression: 'SET lat = list_append(if_not_exists(lat, :none), :v)',
          ConditionExpression: 'attribute_not_exists(lat) OR size(lat) < :max',
          ExpressionAttributeValues: { ':none': [], ':v': [[Math.max(0, Math.round(ms)), at]], ':max': MAX_SAMPLES },
        }),
      );
    try {
      await append();
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      // full: the oldest go (a concurrent trim may take a few more: fine for a median of recent starts)
      await this.db.send(
        new UpdateCommand({ TableName: this.table, Key: { id: itemId(nodeId) }, UpdateExpression: `REMOVE ${Array.from({ length: TRIM }, (_, i) => `lat[${i}]`).join(', ')}` }),
      );
      await append().catch((err) => {
        if (!isConditionFailure(err)) throw err;
      });
    }
  }

  /** The samples of these nodes (eventually consistent; 100 keys per BatchGet). */
  async samples(nodeIds: readonly string[]): Promise<Map<string, { ms: number; at: number }[]>> {
    const out = new Map<string, { ms: number; at: number }[]>();
    const ids = [...new Set(nodeIds)];
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids.slice(i, i + 100).map((n) => ({ id: itemId(n) }));
      // unprocessed keys (throttling) are tried again a few times; the rest are left out of the figure
      for (let tries = 0; keys?.length && tries < 3; tries++) {
        const r = await this.db.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }));
        for (const item of r.Responses?.[this.table] ?? []) {
          const nodeId = String(item.id).slice('startlat#'.length);
          const list = ((item.lat as [number, number][] | undefined) ?? []).map(([ms, at]) => ({ ms: Number(ms), at: Number(at) }));
          out.set(nodeId, list);
        }
        keys = r.UnprocessedKeys?.[this.table]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return out;
  }
}
