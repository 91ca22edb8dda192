import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LogLine } from '../../functions/domain/agent-protocol';
import { LogBatcher, type SendLogs } from '../../agent/log-batcher';

/** A send that records each batch; `fail` makes the next calls throw, `fence` answers 409. */
function recorder() {
  const batches: LogLine[][] = [];
  const plan: Array<'fail' | 'fence'> = [];
  const send: SendLogs = vi.fn(async (lines: LogLine[]) => {
    const next = plan.shift();
    if (next === 'fail') throw new Error('network down');
    if (next === 'fence') return 'fenced';
    batches.push(lines.slice());
    return 'ok';
  });
  return { batches, plan, send, sent: () => batches.flat() };
}

const texts = (lines: LogLine[]) => lines.map((l) => l.text);

describe('LogBatcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends 250 ms after the first pending line, numbering lines from 0', async () => {
    const r = recorder();
    const b = new LogBatcher({ send: r.send });
    b.push('stdout', 'a');
    b.push('stderr', 'b');
    await vi.advanceTimersByTimeAsync(249);
    expect(r.send).not.toHaveBeenCalled();
    b.push('stdout', 'c');
    await vi.advanceTimersByTimeAsync(1);
    expect(r.batches).toHaveLength(1);
    expect(r.batches[0].map(({ seq, stream, text }) => [seq, stream, text])).toEqual([
      [0, 'stdout', 'a'],
      [1, 'stderr', 'b'],
      [2, 'stdout', 'c'],
    ]);
  });

  it('sends at once when 100 lines are pending, and keeps seq running across batches', async () => {
    const r = recorder();
    const b = new LogBatcher({ send: r.send });
    for (let i = 0; i < 100; i++) b.push('stdout', `l${i}`);
    await vi.advanceTimersByTimeAsync(0);
    expect(r.batches.map((x) => x.length)).toEqual([100]);
    b.push('stdout', 'next');
    await vi.advanceTimersByTimeAsync(250);
    expect(r.batches[1].map((l) => l.seq)).toEqual([100]);
  });

  it('lines pushed while a send is in flight go in the next batch', async () => {
    let release!: () => void;
    const sent: number[][] = [];
    const send: SendLogs = async (lines) => {
      sent.push(lines.map((l) => l.seq));
      if (sent.length === 1) await new Promise<void>((r) => (release = r));
      return 'ok';
    };
    const b = new LogBatcher({ send });
    for (let i = 0; i < 100; i++) b.push('stdout', 'x');
    for (let i = 0; i < 150; i++) b.push('stdout', 'y');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent.map((s) => [s[0], s.length])).toEqual([[0, 100], [100, 150]]);
  });

  it('returns unsent lines from close() so they ride on finish: a short job sends no logs request', async () => {
    const r = recorder();
    const b = new LogBatcher({ send: r.send });
    b.push('stdout', 'done in 10 ms');
    const rest = await b.close();
    expect(texts(rest)).toEqual(['done in 10 ms']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.send).not.toHaveBeenCalled();
  });

  it('caps lines per attempt and reports the cut as system lines', async () => {
    const r = recorder();
    const b = new LogBatcher({ send: r.send, maxLines: 5 });
    for (let i = 0; i < 8; i++) b.push('stdout', `l${i}`);
    await vi.advanceTimersByTimeAsync(250);
    const rest = await b.close();
    const all = [...r.sent(), ...rest];
    expect(texts(all)).toEqual([
      'l0', 'l1', 'l2', 'l3', 'l4',
      'gpupool: log limit of 5 lines reached; further output is dropped',
      'gpupool: 3 lines (6 bytes) dropped after the log limit',
    ]);
    expect(all.map((l) => l.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(all.slice(5).every((l) => l.stream === 'system')).toBe(true);
  });

  it('caps bytes per attempt as well: 10,000 lines of 16 KiB keep at most 8 MiB, with a marker, while the control plane hangs', async () => {
    // the control plane never answers: everything accepted stays in memory, so the cap is what bounds the heap
    const sends: LogLine[][] = [];
    const send: SendLogs = (lines) => {
      sends.push(lines);
      return new Promise(() => undefined);
    };
    const b = new LogBatcher({ send });
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) b.push('stdout', `${i} `.padEnd(16_384, 'x'));
    const pushMs = performance.now() - started;
    const held = (b as unknown as { pending: LogLine[] }).pending;
    const bytes = held.reduce((n, l) => n + Buffer.byteLength(l.text), 0);
    expect(bytes).toBeLessThanOrEqual(8 * 1024 * 1024 + 1024);
    expect(held.filter((l) => l.stream === 'stdout')).toHaveLength(512); // 8 MiB / 16 KiB
    expect(held[512]).toMatchObject({ stream: 'system', text: 'gpupool: log limit of 8388608 bytes reached; further output is dropped' });
    expect(held).toHaveLength(513);
    expect(pushMs).toBeLessThan(5_000); // pushing never waits on the hung send
  });

  it('counts bytes as UTF-8 and reports the dropped lines and bytes at close', async () => {
    const r = recorder();
    const b = new LogBatcher({ send: r.send, maxBytes: 10 });
    b.push('stdout', 'ééé'); // 6 bytes
    b.push('stdout', 'abc'); // 9
    b.push('stdout', 'de'); // 11: over
    b.push('stderr', 'fgh');
    b.push('system', 'gpupool: stopping attempt (cancelled)'); // the agent's own lines are never dropped
    const all = await b.close();
    expect(texts(all)).toEqual([
      'ééé', 'abc',
      'gpupool: log limit of 10 bytes reached; further output is dropped',
      'gpupool: stopping attempt (cancelled)',
      'gpupool: 2 lines (5 bytes) dropped after the log limit',
    ]);
  });

  it('retries a failed send with backoff, losing and repeating nothing', async () => {
    const r = recorder();
    const onError = vi.fn();
    const b = new LogBatcher({ send: r.send, onError });
    r.plan.push('fail', 'fail');
    b.push('stdout', 'a');
    await vi.advanceTimersByTimeAsync(250);
    b.push('stdout', 'b');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(onError.mock.calls.map((c) => c[1])).toEqual([1, 2]);
    expect(r.send).toHaveBeenCalledTimes(3);
    expect(texts(r.sent())).toEqual(['a', 'b']);
    expect(await b.close()).toEqual([]);
  });

  it('stops sending and reports when the control plane fences the attempt', async () => {
    const r = recorder();
    const onFenced = vi.fn();
    const b = new LogBatcher({ send: r.send, onFenced });
    r.plan.push('fence');
    b.push('stdout', 'a');
    await vi.advanceTimersByTimeAsync(250);
    expect(onFenced).toHaveBeenCalledOnce();
    b.push('stdout', 'b');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(r.send).toHaveBeenCalledTimes(1);
  });

  it('keeps each request under the size limit', async () => {
    const r = recorder();
    const b = new LogBatcher({ send: r.send });
    for (let i = 0; i < 20; i++) b.push('stdout', 'x'.repeat(16_384));
    await vi.advanceTimersByTimeAsync(250);
    await vi.advanceTimersByTimeAsync(250);
    expect(r.batches.map((x) => x.length)).toEqual([11, 9]);
  });

  it('at close, ships what cannot ride on finish and gives up on it only after retries', async () => {
    const r = recorder();
    const b = new LogBatcher({ send: r.send });
    r.plan.push(...Array<'fail'>(50).fill('fail'));
    for (let i = 0; i < 700; i++) b.push('stdout', `l${i}`);
    const closing = b.close();
    await vi.advanceTimersByTimeAsync(60_000);
    const rest = await closing;
    expect(rest).toHaveLength(500);
    expect(rest[0]).toMatchObject({ stream: 'system', text: 'gpupool: 201 log lines could not be delivered' });
    expect(rest[1].text).toBe('l201');
    expect(rest[499].text).toBe('l699');
  });
});
