// The logs store on DynamoDB Local, behind a wrapper that plays a throttled table: BatchWriteItem answers
// part of a batch as UnprocessedItems (DynamoDB Local itself never does). Every line must end up stored,
// after backoff, or the append must fail so the agent posts the lines again; never a silent loss.
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogLine } from '../../functions/domain/agent-protocol';
import { LogsNotStoredError, LogsStore, unprocessedBackoffMs } from '../../functions/store/logs-store';
import { startEngines, type Engines } from '../helpers/engines';

let engines: Engines;
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  engines = await startEngines();
  doc = DynamoDBDocumentClient.from(engines.ddb);
}, 120_000);

afterAll(async () => {
  await engines?.stop();
});

/**
 * Forwards everything to DynamoDB Local, except that each BatchWrite in `plan` writes only its first
 * `n` puts and hands the rest back as UnprocessedItems, as a throttled partition does.
 */
function throttling(plan: number[]) {
  const batches: number[] = [];
  const client = {
    send: async (cmd: unknown) => {
      if (!(cmd instanceof BatchWriteCommand)) return doc.send(cmd as never);
      const [[table, puts]] = Object.entries(cmd.input.RequestItems!);
      batches.push(puts.length);
      const n = plan.length ? plan.shift()! : puts.length;
      if (n > 0) await doc.send(new BatchWriteCommand({ RequestItems: { [table]: puts.slice(0, n) } }));
      return puts.length > n ? { UnprocessedItems: { [table]: puts.slice(n) } } : {};
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, batches };
}

/** `n` lines of ~200 KB each: one chunk (one put) per line, so a batch holds several puts. */
const bigLines = (n: number, from = 0): LogLine[] =>
  Array.from({ length: n }, (_, i) => ({ seq: from + i, stream: 'stdout' as const, text: `${from + i} ${'x'.repeat(200_000)}`, ts: 1 }));

describe('LogsStore.append', () => {
  it('retries UnprocessedItems with growing, jittered pauses until every line is stored', async () => {
    const { client, batches } = throttling([1, 0, 1]);
    const pauses: number[] = [];
    const store = new LogsStore(client, engines.tableNames.logs, async (ms) => void pauses.push(ms));
    await store.append('job-throttled', 1, bigLines(4), Date.now());
    // 4 puts: 1 written, 3 back; none written, 3 back; 1 written, 2 back; the last 2 written
    expect(batches).toEqual([4, 3, 3, 2]);
    expect(pauses).toHaveLength(3);
    const { lines } = await new LogsStore(doc, engines.tableNames.logs).read('job-throttled', 0, 100);
    expect(lines.map((l) => l.text.split(' ')[0])).toEqual(['0', '1', '2', '3']);
  });

  it('fails the append instead of dropping lines when the table stays throttled', async () => {
    const { client, batches } = throttling(Array(100).fill(0));
    const store = new LogsStore(client, engines.tableNames.logs, async () => undefined);
    await expect(store.append('job-lost', 1, bigLines(2), Date.now())).rejects.toBeInstanceOf(LogsNotStoredError);
    expect(batches).toHaveLength(8);
  });

  it('backs off exponentially with full jitter, capped at 1 s', () => {
    expect([1, 2, 3, 10].map((r) => unprocessedBackoffMs(r, () => 0.999999))).toEqual([50, 100, 200, 1000]);
    expect(unprocessedBackoffMs(3, () => 0)).toBe(0);
  });
});
