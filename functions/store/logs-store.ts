// Job output. One item per batch the agent posts (pk jobId, sk = first line's global seq), so a batch
// of lines costs one write and a retried post overwrites itself. Global seq = attempt n × 1e9 + the
// agent's per-attempt seq, so lines of later attempts sort after earlier ones.
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LogLine } from '../domain/agent-protocol';

export const SEQ_PER_ATTEMPT = 1_000_000_000;
/** a chunk holds at most this many lines, so a reader after `seq` need look back only this far */
const MAX_CHUNK_LINES = 500;
const MAX_CHUNK_BYTES = 300_000;
const RETENTION_S = 30 * 24 * 3600;
/**
 * BatchWriteItem answers a throttled partition with UnprocessedItems rather than an error; AWS asks callers
 * to retry those with exponential backoff. Eight tries take at most about 2.5 s, well inside the API's 29 s.
 */
const BATCH_TRIES = 8;
const BACKOFF_BASE_MS = 25;
const BACKOFF_CAP_MS = 1_000;

/** Full jitter: a throttled partition is not hit again by every writer in step. */
export function unprocessedBackoffMs(retry: number, random = Math.random): number {
  return Math.round(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** retry));
}

/** Some lines could not be stored: the request fails, so the agent keeps them and posts them again. */
export class LogsNotStoredError extends Error {
  constructor(readonly chunks: number) {
    super(`${chunks} log chunk(s) were not stored after ${BATCH_TRIES} tries (throttled); post them again`);
    this.name = 'LogsNotStoredError';
  }
}

export interface StoredLine {
  seq: number;
  attempt: number;
  stream: LogLine['stream'];
  text: string;
  ts: number;
}

function chunk(lines: LogLine[]): LogLine[][] {
  const out: LogLine[][] = [];
  let cur: LogLine[] = [];
  let bytes = 0;
  for (const l of lines) {
    if (cur.length && (cur.length >= MAX_CHUNK_LINES || bytes + l.text.length > MAX_CHUNK_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(l);
    bytes += l.text.length;
  }
  if (cur.length) out.push(cur);
  return out;
}

export class LogsStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly pause: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  async append(jobId: string, attemptN: number, lines: LogLine[], now: number): Promise<void> {
    const sorted = [...lines].sort((a, b) => a.seq - b.seq);
    const puts = chunk(sorted).map((c) => ({
      PutRequest: {
        Item: {
          jobId,
          seq: attemptN * SEQ_PER_ATTEMPT + c[0].seq,
          attempt: attemptN,
          lines: c.map((l) => [l.seq, l.stream, l.text, l.ts]),
          expiresAt: Math.floor(now / 1000) + RETENTION_S,
        },
      },
    }));
    for (let i = 0; i < puts.length; i += 25) await this.writeAll(puts.slice(i, i + 25));
  }

  /** One BatchWrite of up to 25 puts, its UnprocessedItems retried with backoff; throws rather than drop any. */
  private async writeAll(puts: Array<{ PutRequest: { Item: Record<string, unknown> } }>): Promise<void> {
    let left: unknown[] = puts;
    for (let tries = 0; left.length > 0; tries++) {
      if (tries === BATCH_TRIES) throw new LogsNotStoredError(left.length);
      if (tries > 0) await this.pause(unprocessedBackoffMs(tries));
      const r = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: left as never } }));
      left = r.UnprocessedItems?.[this.table] ?? [];
    }
  }

  /** Lines with global seq > after, in order. */
  async read(jobId: string, after: number, limit: number): Promise<{ lines: StoredLine[]; last: number }> {
    const r = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'jobId = :j AND seq > :from',
        ExpressionAttributeValues: { ':j': jobId, ':from': after - MAX_CHUNK_LINES },
      }),
    );
    const lines: StoredLine[] = [];
    for (const item of r.Items ?? []) {
      const attempt = item.attempt as number;
      for (const [s, stream, text, ts] of item.lines as [number, LogLine['stream'], string, number][]) {
        const seq = attempt * SEQ_PER_ATTEMPT + s;
        if (seq > after) lines.push({ seq, attempt, stream, text, ts });
      }
    }
    lines.sort((a, b) => a.seq - b.seq);
    const page = lines.slice(0, limit);
    return { lines: page, last: page.length ? page[page.length - 1].seq : after };
  }
}
