// The local stack's stand-ins for the webhooks function's two Lambda event sources: a poller of the jobs
// table's DynamoDB Stream (DynamoDB Local supports Streams) and a poller of the retry queue on the
// in-process SQS server. Both hand batches to the same handler code the Lambda runs
// (functions/scheduled/webhooks.ts handleWebhookEvent) in the shapes Lambda would.
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, SQSRecord } from 'aws-lambda';
import { every, type Timer } from './timers';

export type BatchHandler = (event: { Records: (DynamoDBRecord | SQSRecord)[] }) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

export interface Poller {
  stop(): Promise<void>;
}

/** Like Lambda's retryAttempts on a stream source: a batch that keeps failing is skipped (and logged) after this many tries. */
const MAX_BATCH_TRIES = 5;

/**
 * Reads every shard of the table's stream from its oldest record (TRIM_HORIZON): after a restart the
 * records of the last 24 h are seen again, which the delivery claims make harmless and which catches
 * jobs that ended while the stack was down. New shards (DynamoDB rolls them) are found every `pollMs × 20`.
 */
export async function startJobStream(o: {
  ddb: DynamoDBClient;
  endpoint: string;
  table: string;
  handle: BatchHandler;
  pollMs?: number;
  log?: (msg: string) => void;
}): Promise<Poller> {
  const arn = (await o.ddb.send(new DescribeTableCommand({ TableName: o.table }))).Table?.LatestStreamArn;
  if (!arn) throw new Error(`table ${o.table} has no stream`);
  const region = await o.ddb.config.region();
  const credentials = await o.ddb.config.credentials();
  const streams = new DynamoDBStreamsClient({ endpoint: o.endpoint, region, credentials });
  const iterators = new Map<string, string>();
  const closed = new Set<string>();
  const tries = new Map<string, number>();
  let round = 0;

  const discover = async () => {
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription?.Shards ?? [];
    for (const s of shards) {
      if (!s.ShardId || iterators.has(s.ShardId) || closed.has(s.ShardId)) continue;
      const it = await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
      if (it.ShardIterator) iterators.set(s.ShardId, it.ShardIterator);
    }
  };

  let lost = false;
  const poll = async (shardId: string, iterator: string) => {
    let r;
    try {
      r = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 100 }));
    } catch (e) {
      // DynamoDB Local answers TrimmedDataAccess for an iterator taken while its shard was still empty;
      // either way a fresh TRIM_HORIZON iterator is taken next round (the claims make re-reads harmless)
      if (!['TrimmedDataAccessException', 'ExpiredIteratorException'].includes((e as Error).name)) throw e;
      iterators.delete(shardId);
      lost = true;
      return;
    }
    const records = r.Records ?? [];
    if (records.length) {
      const { batchItemFailures } = await o.handle({ Records: records.map(toLambdaRecord) });
      const n = (tries.get(shardId) ?? 0) + 1;
      // keep the iterator: the whole batch comes again (the claims skip what was already sent)
      if (batchItemFailures.length && n < MAX_BATCH_TRIES) return void tries.set(shardId, n);
      if (batchItemFailures.length) o.log?.(`webhooks: gave up on ${batchItemFailures.length} stream record(s) after ${n} tries`);
      tries.delete(shardId);
    }
    if (r.NextShardIterator) iterators.set(shardId, r.NextShardIterator);
    else {
      iterators.delete(shardId);
      closed.add(shardId);
    }
  };

  const timer: Timer = every(o.pollMs ?? 250, async () => {
    if (round++ % 20 === 0 || iterators.size === 0 || lost) {
      lost = false;
      await discover();
    }
    for (const [shardId, iterator] of [...iterators]) await poll(shardId, iterator);
  });
  return {
    async stop() {
      await timer.stop();
      streams.destroy();
    },
  };
}

function toLambdaRecord(r: StreamRecord): DynamoDBRecord {
  return { eventID: r.eventID, eventName: r.eventName, eventSource: 'aws:dynamodb', dynamodb: r.dynamodb } as DynamoDBRecord;
}

/** Long-polls the retry queue one message at a time (the local server answers a 1-message poll at once). */
export function startRetryPoller(o: { sqs: SQSClient; queueUrl: string; handle: BatchHandler; log?: (msg: string) => void }): Poller {
  const abort = new AbortController();
  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        const r = await o.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: o.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 5, VisibilityTimeout: 60 }),
          { abortSignal: abort.signal },
        );
        for (const m of r.Messages ?? []) {
          const record = { messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body ?? '', eventSource: 'aws:sqs' } as SQSRecord;
          const { batchItemFailures } = await o.handle({ Records: [record] });
          // a failed one stays and comes back after its visibility timeout, as with Lambda's SQS source
          if (!batchItemFailures.length) await o.sqs.send(new DeleteMessageCommand({ QueueUrl: o.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
        }
      } catch (e) {
        if (abort.signal.aborted) break;
        o.log?.(`webhooks: retry queue poll failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();
  return {
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
