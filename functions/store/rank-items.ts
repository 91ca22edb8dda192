// A gang's rank items: one per live rank, id `<jobId>#rank<k>`, carrying the `liveNodeId` of that rank's
// node. A DynamoDB item has one key per index, so the job item alone cannot be found from every node of
// its gang; these are, through the same liveByNode index single-node jobs use. They are written (and
// deleted) in the transaction that moves the job, so they always agree with it.
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { liveRanks } from '../domain/job/gang';
import type { Job } from '../domain/model';

const rankId = (jobId: string, rank: number) => `${jobId}#rank${rank}`;

/** Puts for the ranks live after the transition (cancelRequested travels along), deletes for those that ended. */
export function rankItems(table: string, before: Job, after: Job): TransactWriteItem[] {
  const live = after.gang ? liveRanks(after) : [];
  const wasLive = before.gang ? liveRanks(before) : [];
  const stays = new Set(live.map((a) => a.rank));
  const items: TransactWriteItem[] = live.map((a) => ({
    Put: {
      TableName: table,
      Item: marshall(
        {
          id: rankId(after.id, a.rank!),
          rankOf: after.id,
          liveNodeId: a.nodeId,
          createdAt: after.createdAt,
          liveAttemptId: a.id,
          ...(after.cancelRequested ? { cancelRequested: after.cancelRequested } : {}),
        },
        { removeUndefinedValues: true },
      ),
    },
  }));
  for (const a of wasLive) if (!stays.has(a.rank)) items.push({ Delete: { TableName: table, Key: { id: { S: rankId(before.id, a.rank!) } } } });
  return items;
}

/** A rank item read from liveByNode, as the job it stands for (only the fields callers read; they re-read the job). */
export function rankLookup(item: Record<string, unknown>): Job | undefined {
  if (typeof item.rankOf !== 'string') return undefined;
  return {
    id: item.rankOf,
    nodeId: item.liveNodeId,
    liveAttemptId: item.liveAttemptId,
    ...(item.cancelRequested ? { cancelRequested: item.cancelRequested } : {}),
  } as unknown as Job;
}
