// Spreads hot index partitions: a stable small hash of an id picks one of SHARDS partitions, and
// `queryPartitions` reads a sharded index back: one Query per partition, in parallel.
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SHARDS } from './tables';

export function shardOf(id: string, shards = SHARDS): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return (h >>> 0) % shards;
}

export const allShards = (shards = SHARDS) => Array.from({ length: shards }, (_, i) => i);

export interface PartitionQuery {
  table: string;
  index: string;
  /** the index's partition key attribute and the partition values to read */
  partitionAttr: string;
  partitions: string[];
  /** optional: only items whose sort key is below this */
  sortBelow?: { attr: string; value: number };
  /** items per partition */
  limit: number;
}

export async function queryPartitions(db: DynamoDBDocumentClient, q: PartitionQuery): Promise<Record<string, unknown>[]> {
  const pages = await Promise.all(
    q.partitions.map((key) =>
      db.send(
        new QueryCommand({
          TableName: q.table,
          IndexName: q.index,
          KeyConditionExpression: '#p = :p' + (q.sortBelow ? ' AND #s < :s' : ''),
          ExpressionAttributeNames: { '#p': q.partitionAttr, ...(q.sortBelow ? { '#s': q.sortBelow.attr } : {}) },
          ExpressionAttributeValues: { ':p': key, ...(q.sortBelow ? { ':s': q.sortBelow.value } : {}) },
          Limit: q.limit,
        }),
      ),
    ),
  );
  return pages.flatMap((r) => r.Items ?? []);
}
