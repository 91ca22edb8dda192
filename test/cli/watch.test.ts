// The live `run` watcher with a scripted API, a fake clock and an instant sleep: no timers, no terminal.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../bin/cli/errors';
import { NetworkError } from '../../bin/cli/http';
import { exitCodeFor, statusText, summaryLine, watchJob, type InterruptSource, type JobView, type LogItem } from '../../bin/cli/watch';

const base: JobView = { id: 'j1', status: 'QUEUED', nodeId: null, attempts: [], createdAt: 1_000, startedAt: null, finishedAt: null, exitCode: null, cost: { charged: 0, gpuSeconds: 0 } };

/** Each GET of the job returns the next state (the last one repeats); log lines appear from a given poll on. */
function scripted(states: Partial<JobView>[], lines: (LogItem & { from?: number })[] = [], o: { failAt?: Map<number, Error> } = {}) {
  const calls: string[] = [];
  let polls = 0;
  const deleted: string[] = [];
  let cancelled = false;
  const api = {
    async get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
      calls.push(`GET ${path}${query ? ` after=${query.after}` : ''}`);
      if (path.endsWith('/logs')) {
        const after = Number(query?.after ?? -1);
        const items = lines.filter((l) => (l.from ?? 0) < polls && l.seq > after).map(({ from: _f, ...l }) => l);
        const limit = Number(query?.limit ?? 1000);
        const page = items.slice(0, limit);
        return { items: page, last: page.length ? page[page.length - 1].seq : after } as T;
      }
      const n = polls++;
      const err = o.failAt?.get(n);
      if (err) throw err;
      const s = cancelled ? { status: 'CANCELLED', reason: 'CANCELLED_BY_USER', exitCode: 143 } : states[Math.min(n, states.length - 1)];
      return { job: { ...base, ...s } } as T;
    },
    async del<T>(path: string): Promise<T> {
      deleted.push(path);
      cancelled = true;
      return { job: { ...base, status: 'RUNNING', cancelRequestedAt: 1 } } as T;
    },
  };
  return { api, calls, deleted, get polls() {
    return polls;
  } };
}

function clock() {
  let t = 10_000;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
    advance: (ms: number) => (t += ms),
  };
}

function sink() {
  const out: string[] = [];
  const err: string[] = [];
  const status: (string | null)[] = [];
  return { out, err, status, stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), draw: (s: string | null) => status.push(s) };
}

const line = (seq: number, stream: LogItem['stream'], text: string, from = 0): LogItem & { from: number } => ({ seq, attempt: 0, stream, text, ts: seq, from });

describe('watchJob', () => {
  it('follows queued → assigned → running → succeeded, printing each stream to its place in order', async () => {
    const s = scripted(
      [
        { status: 'QUEUED', pendingReason: 'no nodes with free capacity' },
        { status: 'ASSIGNED', nodeId: 'n1' },
        { status: 'RUNNING', nodeId: 'n1', startedAt: 2_000, cost: { charged: 7_000, gpuSeconds: 1 } },
        { status: 'SUCCEEDED', nodeId: 'n1', startedAt: 2_000, finishedAt: 5_500, exitCode: 0, cost: { charged: 12_000, gpuSeconds: 3.5 } },
      ],
      [line(1, 'stdout', 'hello', 2), line(2, 'stderr', 'warn', 2), line(3, 'system', 'gpupool: note', 3), line(4, 'stdout', 'bye', 3)],
    );
    const c = clock();
    const o = sink();
    const r = await watchJob({ api: s.api, jobId: 'j1', pollMs: 500, now: c.now, sleep: c.sleep, stdout: o.stdout, stderr: o.stderr, status: o.draw });
    expect(r).toMatchObject({ exitCode: 0, detached: false, job: { status: 'SUCCEEDED' } });
    expect(o.out).toEqual(['hello', 'bye']);
    expect(o.err.slice(0, 2)).toEqual(['warn', 'gpupool: note']);
    expect(o.err.at(-1)).toBe('job j1 SUCCEEDED, exit code 0, ran 3.5s on node n1, cost 0.01');
    const drawn = o.status.filter((x): x is string => x !== null);
    expect(drawn[0]).toBe('⠋ queued · 0ms · no nodes with free capacity');
    expect(drawn[1]).toBe('⠙ assigned to node n1 · 500ms');
    expect(drawn[2]).toMatch(/^⠹ running on node n1 · \d.*cost so far 0\.01$/);
    // the status line is cleared before other output and at the end
    expect(o.status.at(-1)).toBeNull();
    // follows the log with after=last
    const afters = s.calls.filter((x) => x.includes('/logs')).map((x) => x.split('after=')[1]);
    expect(afters).toEqual(['-1', '-1', '-1', '2']);
  });

  it('says once, even without a terminal, that the job waits for credits; the status line shows the cost so far', async () => {
    const why = 'insufficient credits: the escrow hold is 7.2 ATH (price × 1 GPUs × 3600 s)';
    const s = scripted([
      { status: 'QUEUED', pendingReason: why },
      { status: 'QUEUED', pendingReason: why },
      { status: 'RUNNING', nodeId: 'n1', startedAt: 2_000, cost: { held: 7_200_000, charged: 20_000, refunded: 0, gpuSeconds: 10 } },
      { status: 'SUCCEEDED', nodeId: 'n1', startedAt: 2_000, finishedAt: 12_000, exitCode: 0, cost: { held: 0, charged: 20_000, refunded: 7_180_000, gpuSeconds: 10 } },
    ]);
    const c = clock();
    const plain = sink();
    await watchJob({ api: s.api, jobId: 'j1', now: c.now, sleep: c.sleep, stdout: plain.stdout, stderr: plain.stderr });
    expect(plain.err).toEqual([
      `gpupool: job j1 waits: ${why}; it starts once the account has the credits (an admin runs: gpupool credits mint ACCOUNT AMOUNT)`,
      'job j1 SUCCEEDED, exit code 0, ran 10s on node n1, cost 0.02',
    ]);
    const t = scripted([{ status: 'QUEUED', pendingReason: why }, { status: 'RUNNING', nodeId: 'n1', cost: { held: 7_200_000, charged: 20_000, refunded: 0, gpuSeconds: 10 } }, { status: 'SUCCEEDED', exitCode: 0 }]);
    const tty = sink();
    await watchJob({ api: t.api, jobId: 'j1', now: c.now, sleep: c.sleep, stdout: tty.stdout, stderr: tty.stderr, status: tty.draw });
    const drawn = tty.status.filter((x): x is string => x !== null);
    expect(drawn[0]).toBe(`⠋ queued · 0ms · ${why}`);
    expect(drawn[1]).toMatch(/^⠙ running on node n1 · .* · cost so far 0\.02$/);
  });

  it('without a terminal: no status line, just the lines and one summary', async () => {
    const s = scripted([{ status: 'RUNNING', nodeId: 'n1' }, { status: 'FAILED', reason: 'EXIT_NONZERO', exitCode: 3, nodeId: 'n1' }], [line(1, 'stdout', 'hi', 1)]);
    const c = clock();
    const o = sink();
    const r = await watchJob({ api: s.api, jobId: 'j1', now: c.now, sleep: c.sleep, stdout: o.stdout, stderr: o.stderr });
    expect(r.exitCode).toBe(3);
    expect(o.out).toEqual(['hi']);
    expect(o.err).toEqual(['job j1 FAILED (EXIT_NONZERO), exit code 3, cost 0.00']);
  });

  it('fetches the lines written just before the end', async () => {
    const s = scripted([{ status: 'RUNNING' }, { status: 'SUCCEEDED', exitCode: 0 }], [line(1, 'stdout', 'a', 0), line(2, 'stdout', 'last words', 1)]);
    const c = clock();
    const o = sink();
    await watchJob({ api: s.api, jobId: 'j1', now: c.now, sleep: c.sleep, stdout: o.stdout, stderr: o.stderr, summary: false });
    expect(o.out).toEqual(['a', 'last words']);
    expect(o.err).toEqual([]);
  });

  it('pages through many lines', async () => {
    const many = Array.from({ length: 25 }, (_, i) => line(i + 1, 'stdout', `l${i + 1}`));
    const s = scripted([{ status: 'SUCCEEDED', exitCode: 0 }], many);
    const c = clock();
    const o = sink();
    await watchJob({ api: s.api, jobId: 'j1', now: c.now, sleep: c.sleep, stdout: o.stdout, stderr: o.stderr, logPageSize: 10, summary: false });
    expect(o.out).toEqual(many.map((l) => l.text));
  });

  it('without a terminal, Ctrl-C cancels at once and exits 130', async () => {
    const s = scripted([{ status: 'RUNNING', nodeId: 'n1' }]);
    const c = clock();
    const o = sink();
    let fire!: () => void;
    const interrupts: InterruptSource = { subscribe: (h) => ((fire = h), () => (fire = () => undefined)) };
    const sleep = async (ms: number) => {
      c.advance(ms);
      if (s.polls === 2) fire();
    };
    const r = await watchJob({ api: s.api, jobId: 'j1', now: c.now, sleep, stdout: o.stdout, stderr: o.stderr, interrupts });
    expect(s.deleted).toEqual(['/v1/jobs/j1']);
    expect(r.exitCode).toBe(130);
    expect(r.job.status).toBe('CANCELLED');
    expect(o.err[0]).toBe('gpupool: interrupted; cancelling job j1');
  });

  it('on a terminal, Ctrl-C asks first: "y" cancels, "n" keeps going, a second Ctrl-C leaves the job running', async () => {
    for (const [answer, expected] of [
      [true, { deleted: 1, exit: 130, detached: false }],
      [false, { deleted: 0, exit: 0, detached: false }],
      ['interrupt', { deleted: 0, exit: 130, detached: true }],
    ] as const) {
      const s = scripted([{ status: 'RUNNING' }, { status: 'RUNNING' }, { status: 'RUNNING' }, { status: 'RUNNING' }, { status: 'SUCCEEDED', exitCode: 0 }], [line(1, 'stdout', 'during prompt', 2)]);
      const c = clock();
      const o = sink();
      let fire!: () => void;
      const interrupts: InterruptSource = { subscribe: (h) => ((fire = h), () => undefined) };
      const questions: string[] = [];
      const confirm = async (q: string) => {
        questions.push(q);
        return answer;
      };
      const sleep = async (ms: number) => {
        c.advance(ms);
        if (s.polls === 2) fire();
      };
      const r = await watchJob({ api: s.api, jobId: 'j1', now: c.now, sleep, stdout: o.stdout, stderr: o.stderr, status: o.draw, interrupts, confirm });
      expect(questions).toEqual(['Cancel job j1? [y/N] ']);
      expect(s.deleted).toHaveLength(expected.deleted);
      expect(r.exitCode).toBe(expected.exit);
      expect(r.detached).toBe(expected.detached);
      if (answer === 'interrupt') expect(o.err.at(-1)).toMatch(/not cancelled and keeps running; follow it with: gpupool jobs logs -f j1/);
    }
  });

  it('rides out network and 5xx errors, but gives up after the limit', async () => {
    const flaky = new Map<number, Error>([
      [1, new NetworkError('cannot reach http://x: ECONNREFUSED')],
      [2, new ApiError({ title: 'Bad Gateway', status: 502, detail: 'x' })],
    ]);
    const s = scripted([{ status: 'RUNNING' }, { status: 'RUNNING' }, { status: 'RUNNING' }, { status: 'SUCCEEDED', exitCode: 0 }], [], { failAt: flaky });
    const c = clock();
    const o = sink();
    const r = await watchJob({ api: s.api, jobId: 'j1', now: c.now, sleep: c.sleep, stdout: o.stdout, stderr: o.stderr, status: o.draw });
    expect(r.exitCode).toBe(0);
    expect(o.status.some((x) => x?.includes('ECONNREFUSED; retrying'))).toBe(true);

    const down = new Map<number, Error>(Array.from({ length: 1000 }, (_, i) => [i + 1, new NetworkError('down')] as [number, Error]));
    const s2 = scripted([{ status: 'RUNNING' }], [], { failAt: down });
    await expect(watchJob({ api: s2.api, jobId: 'j1', now: c.now, sleep: c.sleep, stdout: o.stdout, stderr: o.stderr, transientLimitMs: 5_000 })).rejects.toThrow('down');
  });

  it('stops at once on errors that will not go away', async () => {
    const s = scripted([{}], [], { failAt: new Map([[0, new ApiError({ title: 'Not Found', status: 404, detail: 'job not found' })]]) });
    const c = clock();
    const o = sink();
    await expect(watchJob({ api: s.api, jobId: 'j1', now: c.now, sleep: c.sleep, stdout: o.stdout, stderr: o.stderr })).rejects.toThrow('Not Found: job not found');
  });
});

describe('exit codes and lines', () => {
  it('mirror the job', () => {
    expect(exitCodeFor({ status: 'SUCCEEDED', exitCode: 0 })).toBe(0);
    expect(exitCodeFor({ status: 'FAILED', exitCode: 3 })).toBe(3);
    expect(exitCodeFor({ status: 'FAILED', exitCode: null })).toBe(1);
    expect(exitCodeFor({ status: 'FAILED', exitCode: 0 })).toBe(1);
    expect(exitCodeFor({ status: 'TIMED_OUT', exitCode: null })).toBe(1);
    expect(exitCodeFor({ status: 'CANCELLED', exitCode: 143 })).toBe(130);
    expect(exitCodeFor({ status: 'FAILED', exitCode: 300 })).toBe(1);
  });

  it('summarise and show status', () => {
    expect(summaryLine({ ...base, status: 'TIMED_OUT', reason: 'TIMED_OUT', startedAt: 0, finishedAt: 60_000, nodeId: 'n' })).toBe(
      'job j1 TIMED_OUT (TIMED_OUT), ran 1m00s on node n, cost 0.00',
    );
    expect(statusText({ ...base, status: 'QUEUED', pendingReason: null }, 1_500, 0)).toBe('⠋ queued · 1.5s · waiting for a node');
  });
});
