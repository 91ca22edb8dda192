// Collects an attempt's output and ships it in batches: one request per 250 ms or per 100 lines, whichever
// comes first. Sending never blocks the workload: lines queue in memory (bounded by the per-attempt caps on
// lines and on bytes), failed sends retry with backoff, and whatever is unsent at the end rides on the
// finish request. The byte cap matters: 10,000 lines of 16 KiB each held 157 MB of heap under a line cap alone.
import type { LogLine } from '../functions/domain/agent-protocol';
import { backoffDelay, sleep } from './backoff';
import { MAX_LINE_CHARS } from './runtime/lines';
import type { Stream } from './runtime/types';

/** 'fenced' means the control plane answered 409: this attempt is no longer ours to run. */
export type SendLogs = (lines: LogLine[]) => Promise<'ok' | 'fenced'>;

export interface BatcherOptions {
  send: SendLogs;
  onFenced?: () => void;
  onError?: (err: unknown, failures: number) => void;
  /** lines accepted per attempt; later output is dropped and the cut reported */
  maxLines?: number;
  /** UTF-8 bytes of output accepted per attempt, the same way */
  maxBytes?: number;
  flushMs?: number;
  batchLines?: number;
  now?: () => number;
}

/** LogsRequestSchema allows 500 lines; the API rejects bodies over 256 KB, so stay well under both. */
export const MAX_REQUEST_LINES = 500;
export const MAX_REQUEST_CHARS = 192 * 1024;
/** 8 MiB of output per attempt: a full log view's worth, and a bound on what an unreachable control plane leaves in memory */
export const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
/** close() tries this many times to ship an overflow that cannot ride on finish before giving it up */
const CLOSE_SEND_TRIES = 4;

export class LogBatcher {
  private pending: LogLine[] = [];
  private seq = 0;
  private accepted = 0;
  private acceptedBytes = 0;
  private dropped = 0;
  private droppedBytes = 0;
  /** why output is being dropped, once a cap is reached */
  private cut?: string;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private fenced = false;
  private closed = false;
  private readonly o: Required<Omit<BatcherOptions, 'onFenced' | 'onError'>> & BatcherOptions;

  constructor(opts: BatcherOptions) {
    this.o = { maxLines: 10_000, maxBytes: DEFAULT_MAX_BYTES, flushMs: 250, batchLines: 100, now: Date.now, ...opts };
  }

  /** Never waits and never throws: the workload's output must not stall on the log path. */
  push(stream: Stream, text: string): void {
    if (this.closed) return;
    if (stream === 'system') {
      this.add(stream, text);
      return this.schedule();
    }
    const line = text.slice(0, MAX_LINE_CHARS);
    const bytes = Buffer.byteLength(line);
    if (!this.cut && this.acceptedBytes + bytes > this.o.maxBytes) this.cutAt(`${this.o.maxBytes} bytes`);
    if (this.cut) {
      this.dropped++;
      this.droppedBytes += bytes;
      return;
    }
    this.add(stream, line);
    this.acceptedBytes += bytes;
    if (++this.accepted === this.o.maxLines) this.cutAt(`${this.o.maxLines} lines`);
    this.schedule();
  }

  /** The marker goes into the log itself, so whoever reads it knows that output is missing and why. */
  private cutAt(limit: string): void {
    this.cut = limit;
    this.add('system', `gpupool: log limit of ${limit} reached; further output is dropped`);
  }

  /** Stops sending and returns what finish must carry; ships any overflow beyond one request first. */
  async close(): Promise<LogLine[]> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.inFlight;
    if (this.dropped > 0) this.add('system', `gpupool: ${this.dropped} lines (${this.droppedBytes} bytes) dropped after the log limit`);
    for (let tries = 0; !this.fenced && this.overflows() && tries < CLOSE_SEND_TRIES; tries++) {
      if (tries > 0) await sleep(backoffDelay(tries));
      await this.sendBatch().catch((err) => this.o.onError?.(err, ++this.failures));
    }
    if (this.overflows()) {
      // Unsendable and too big for finish: keep the newest lines, which usually say why the job ended.
      const keep = takeBatch(this.pending.slice().reverse()).length - 1;
      const lost = this.pending.length - keep;
      this.pending = this.pending.slice(this.pending.length - keep);
      this.pending.unshift(this.line('system', `gpupool: ${lost} log lines could not be delivered`));
    }
    return this.pending;
  }

  private add(stream: Stream, text: string): void {
    this.pending.push(this.line(stream, text));
  }

  private line(stream: Stream, text: string): LogLine {
    return { seq: this.seq++, stream, text: text.slice(0, MAX_LINE_CHARS), ts: this.o.now() };
  }

  private overflows(): boolean {
    return takeBatch(this.pending).length < this.pending.length;
  }

  private schedule(delay = this.o.flushMs): void {
    if (this.closed || this.fenced || this.inFlight || this.pending.length === 0) return;
    if (this.pending.length >= this.o.batchLines && this.failures === 0) return void this.flush();
    this.timer ??= setTimeout(() => this.flush(), delay);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.fenced || this.inFlight || this.pending.length === 0) return;
    this.inFlight = this.sendBatch()
      .then(() => (this.failures = 0))
      .catch((err) => {
        this.failures++;
        this.o.onError?.(err, this.failures);
      })
      .then(() => {
        this.inFlight = undefined;
        this.schedule(this.failures > 0 ? backoffDelay(this.failures) : this.o.flushMs);
      });
  }

  // Lines leave `pending` only after the control plane took them, so a failed send loses nothing.
  private async sendBatch(): Promise<void> {
    const batch = takeBatch(this.pending);
    if ((await this.o.send(batch)) === 'fenced') {
      this.fenced = true;
      this.o.onFenced?.();
      return;
    }
    this.pending.splice(0, batch.length);
  }
}

/** The longest prefix that fits one request by line count and by size. */
function takeBatch(lines: LogLine[]): LogLine[] {
  let chars = 0;
  let n = 0;
  for (; n < lines.length && n < MAX_REQUEST_LINES; n++) {
    chars += lines[n].text.length + 64; // 64: the JSON around each line
    if (chars > MAX_REQUEST_CHARS && n > 0) break;
  }
  return lines.slice(0, n);
}
