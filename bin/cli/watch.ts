// Follows a job to its end: polls GET /v1/jobs/{id}, streams GET /v1/jobs/{id}/logs?after=SEQ, draws a
// live status line on a terminal, and handles Ctrl-C (ask to cancel on a TTY, cancel at once without).
// Clock, sleep, poll interval, output, prompt and the interrupt source are injected, so tests drive it
// without timers or a terminal.
import { ApiError } from './errors';
import { colors, formatCost, formatDuration, stripAnsi, visibleWidth, type Colors } from './format';
import { isTransient } from './http';
import type { Attempt, Job, LogLine, Logs, View } from './answers';

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

export type AttemptView = View<Attempt, 'id' | 'nodeId' | 'status', 'reason' | 'exitCode'>;

/** The fields of the API's job answer the CLI uses (the response schema's types; only id and status are sure). */
export type JobView = View<Job, 'id' | 'status', 'name' | 'reason' | 'pendingReason' | 'nodeId' | 'resources' | 'createdAt' | 'startedAt' | 'finishedAt' | 'exitCode'> & {
  attempts?: AttemptView[];
  /** micro-credits: `held` in escrow for the live attempt, `charged` so far (settled attempts plus the live
   * one's metered time), `refunded` holds given back */
  cost?: View<Job['cost'], 'charged' | 'gpuSeconds', 'held' | 'refunded'>;
};

/** The job waits because its consumer cannot cover the escrow hold (pendingReason from the placement). */
export const isCreditWait = (job: Pick<JobView, 'status' | 'pendingReason'>) => job.status === 'QUEUED' && /^insufficient credits/i.test(job.pendingReason ?? '');

export type LogItem = LogLine;
/** GET /v1/jobs/{id}/logs: `last` is the highest seq stored so far */
export type LogsPage = Logs;

/** What a finished job means for `gpupool run`'s exit status. */
export function exitCodeFor(job: Pick<JobView, 'status' | 'exitCode'>): number {
  if (job.status === 'CANCELLED') return 130;
  const code = job.exitCode;
  const valid = typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 255;
  if (job.status === 'SUCCEEDED') return valid ? code : 0;
  return valid && code !== 0 ? code : 1;
}

/** The one line `run` prints when the job ends. */
export function summaryLine(job: JobView, c: Colors = colors(false)): string {
  const status = job.status === 'SUCCEEDED' ? c.green(job.status) : job.status === 'CANCELLED' ? c.yellow(job.status) : c.red(job.status);
  const parts = [`job ${job.id} ${status}${job.reason ? ` (${job.reason})` : ''}`];
  if (typeof job.exitCode === 'number') parts.push(`exit code ${job.exitCode}`);
  if (typeof job.startedAt === 'number' && typeof job.finishedAt === 'number') parts.push(`ran ${formatDuration(job.finishedAt - job.startedAt)}${job.nodeId ? ` on node ${job.nodeId}` : ''}`);
  parts.push(`cost ${formatCost(job.cost?.charged ?? 0)}`);
  return parts.join(', ');
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** The live status line: queued [why] → assigned to node X → running on node X, elapsed, cost so far.
 * What matters most comes first: a narrow terminal cuts the end. */
export function statusText(job: JobView, elapsedMs: number, frame: number, c: Colors = colors(false), extra: string[] = []): string {
  const spin = c.cyan(SPINNER[frame % SPINNER.length]);
  const parts: string[] = [];
  switch (job.status) {
    case 'QUEUED':
      parts.push(`${spin} queued`, formatDuration(elapsedMs), ...extra, isCreditWait(job) ? c.yellow(job.pendingReason!) : (job.pendingReason ?? 'waiting for a node'));
      break;
    case 'ASSIGNED':
      parts.push(`${spin} assigned to node ${job.nodeId ?? '?'}`, formatDuration(elapsedMs), ...extra);
      break;
    case 'RUNNING':
      parts.push(`${spin} running on node ${job.nodeId ?? '?'}`, formatDuration(elapsedMs), `cost so far ${formatCost(job.cost?.charged ?? 0)}`, ...extra);
      break;
    default:
      parts.push(`${spin} ${job.status.toLowerCase()}`, formatDuration(elapsedMs), ...extra);
  }
  return parts.join(c.dim(' · '));
}

/** A status line on a terminal stream: redrawn in place, cleared before other output. */
export function ttyStatusLine(stream: { write(s: string): unknown; columns?: number }): (line: string | null) => void {
  let shown = false;
  return (line) => {
    if (line === null) {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
      return;
    }
    const max = Math.max(10, (stream.columns || 80) - 1);
    const fitted = visibleWidth(line) > max ? `${[...stripAnsi(line)].slice(0, max - 1).join('')}…` : line;
    stream.write(`\r\x1b[2K${fitted}`);
    shown = true;
  };
}

export interface InterruptSource {
  /** calls `onInterrupt` on each Ctrl-C until the returned function is called */
  subscribe(onInterrupt: () => void): () => void;
}

export const processInterrupts: InterruptSource = {
  subscribe(onInterrupt) {
    const h = () => onInterrupt();
    process.on('SIGINT', h);
    return () => process.off('SIGINT', h);
  },
};

export interface ApiLike {
  get<T = unknown>(path: string, query?: Record<string, string | number | undefined>): Promise<T>;
  del<T = unknown>(path: string): Promise<T>;
}

export interface WatchOptions {
  api: ApiLike;
  jobId: string;
  /** the answer to the submit, if there was one: the status line starts from it */
  initial?: JobView;
  /** ms between polls; default 500 */
  pollMs?: number;
  now?: () => number;
  /** waits ms, or less when `wake` aborts */
  sleep?: (ms: number, wake: AbortSignal) => Promise<void>;
  /** the job's stdout lines */
  stdout(text: string): void;
  /** the job's stderr and system lines, and notes */
  stderr(text: string): void;
  /** colours for stderr notes */
  colors?: Colors;
  /** draws the status line (terminal only); null clears it. Without it: no status line, no notes. */
  status?(line: string | null): void;
  /** print the summary line to stderr at the end (default true) */
  summary?: boolean;
  interrupts?: InterruptSource;
  /** asks on a terminal; true yes, false no, 'interrupt' a second Ctrl-C. Without it, Ctrl-C cancels at once. */
  confirm?(question: string): Promise<boolean | 'interrupt'>;
  /** how long to ride out network and 5xx errors before giving up; default 60 s */
  transientLimitMs?: number;
  /** logs per request; default 1000 (the API's maximum) */
  logPageSize?: number;
}

export interface WatchResult {
  job: JobView;
  exitCode: number;
  /** the user stopped watching before the job ended (a second Ctrl-C) */
  detached: boolean;
}

export const defaultSleep = (ms: number, wake: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (wake.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      wake.removeEventListener('abort', done);
      resolve();
    }
    wake.addEventListener('abort', done, { once: true });
  });

export async function watchJob(o: WatchOptions): Promise<WatchResult> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const pollMs = o.pollMs ?? 500;
  const pageSize = o.logPageSize ?? 1000;
  const transientLimitMs = o.transientLimitMs ?? 60_000;
  const c = o.colors ?? colors(false);
  const id = o.jobId;
  const path = `/v1/jobs/${encodeURIComponent(id)}`;

  let job: JobView | undefined = o.initial;
  let after = -1;
  const startedAt = now();
  let runningSince: number | undefined;
  let frame = 0;
  let wake = new AbortController();
  let cancelRequested = false;
  let detached = false;
  let prompting: Promise<void> | undefined;
  let held: (() => void)[] = [];
  let trouble: { since: number; message: string } | undefined;
  let seenAttempts = job?.attempts?.length ?? 0;
  let creditNote: string | undefined;

  /** output waits while the cancel prompt is open, so the question is not buried under log lines */
  const emit = (f: () => void) => {
    if (prompting) held.push(f);
    else {
      o.status?.(null);
      f();
    }
  };
  const note = (s: string) => {
    if (o.status) emit(() => o.stderr(c.dim(`gpupool: ${s}`)));
  };
  const draw = () => {
    if (!o.status || !job || prompting || detached) return;
    // time in the current state: since submit, or since the attempt started (the API's own start and
    // creation times give the queueing time, so the two clocks need not agree)
    const sinceSubmit = now() - startedAt;
    const queued = job.startedAt && job.createdAt ? job.startedAt - job.createdAt : undefined;
    const elapsed =
      job.status === 'RUNNING' ? (seenAttempts > 1 && runningSince !== undefined ? now() - runningSince : Math.max(0, sinceSubmit - (queued ?? 0))) : sinceSubmit;
    const extra: string[] = [];
    if (cancelRequested) extra.push(c.yellow('cancelling'));
    if (trouble) extra.push(c.yellow(`${trouble.message}; retrying`));
    o.status(statusText(job, elapsed, frame++, c, extra));
  };

  const drainLogs = async () => {
    for (;;) {
      const page = await o.api.get<LogsPage>(`${path}/logs`, { after, limit: pageSize });
      const items = page?.items ?? [];
      if (items.length) {
        emit(() => {
          for (const l of items) {
            if (l.stream === 'stdout') o.stdout(l.text);
            else if (l.stream === 'system') o.stderr(c.dim(l.text));
            else o.stderr(l.text);
          }
        });
      }
      after = Math.max(after, typeof page?.last === 'number' ? page.last : after, ...items.map((l) => l.seq));
      if (items.length < pageSize) return;
    }
  };

  const cancel = async () => {
    cancelRequested = true;
    try {
      const r = await o.api.del<{ job?: JobView }>(path);
      if (r?.job) job = r.job;
    } catch (e) {
      // 409: it ended meanwhile; the loop sees the final state
      if (!(e instanceof ApiError && e.status === 409)) emit(() => o.stderr(`gpupool: could not cancel job ${id}: ${(e as Error).message}`));
    }
    wake.abort();
  };

  const detach = (why: string) => {
    detached = true;
    o.status?.(null);
    o.stderr(`gpupool: ${why}; follow it with: gpupool jobs logs -f ${id}`);
    wake.abort();
  };

  const ask = async () => {
    let release!: () => void;
    prompting = new Promise<void>((r) => (release = r));
    o.status?.(null);
    let answer: boolean | 'interrupt';
    try {
      answer = await o.confirm!(`Cancel job ${id}? [y/N] `);
    } catch {
      answer = false;
    }
    prompting = undefined;
    const pending = held;
    held = [];
    for (const f of pending) f();
    release();
    if (answer === 'interrupt') detach(`stopped watching; job ${id} was not cancelled and keeps running`);
    else if (answer) {
      o.stderr(`gpupool: cancelling job ${id}`);
      await cancel();
    } else draw();
  };

  const onInterrupt = () => {
    if (detached) return;
    if (prompting) return detach(`stopped watching; job ${id} was not cancelled and keeps running`);
    if (cancelRequested) return detach(`stopped watching; job ${id} was asked to cancel`);
    if (o.confirm) void ask();
    else {
      o.stderr(`gpupool: interrupted; cancelling job ${id}`);
      void cancel();
    }
  };

  const unsubscribe = o.interrupts?.subscribe(onInterrupt);
  try {
    for (;;) {
      if (prompting) await prompting;
      if (detached) break;
      let fresh = false;
      try {
        const r = await o.api.get<{ job: JobView }>(path);
        job = r.job;
        // logs after the job's state: once the job is final, every line it wrote is already stored
        await drainLogs();
        fresh = true;
        trouble = undefined;
      } catch (e) {
        if (!isTransient(e)) throw e;
        trouble ??= { since: now(), message: '' };
        trouble.message = (e as Error).message;
        if (now() - trouble.since > transientLimitMs) throw e;
      }
      if (detached) break;
      if (job && fresh) {
        if (job.status === 'RUNNING') runningSince ??= now();
        // said once per reason, with or without a terminal: without one, a job short of credits would
        // otherwise wait in silence until someone mints
        if (!isCreditWait(job)) creditNote = undefined;
        else if (!creditNote) {
          const why = (creditNote = job.pendingReason!);
          emit(() => o.stderr(c.yellow(`gpupool: job ${id} waits: ${why}; it starts once the account has the credits (an admin runs: gpupool credits mint ACCOUNT AMOUNT)`)));
        }
        const attempts = job.attempts ?? [];
        if (attempts.length > seenAttempts) {
          for (const a of attempts.slice(Math.max(0, seenAttempts - 1), -1)) {
            if (a.status === 'LOST' || a.status === 'FAILED') note(`attempt on node ${a.nodeId} ended ${a.status}${a.reason ? ` (${a.reason})` : ''}; trying again`);
          }
          if (seenAttempts > 0) runningSince = job.status === 'RUNNING' ? now() : undefined;
          seenAttempts = attempts.length;
        }
        if (FINAL_STATUSES.has(job.status)) break;
      }
      draw();
      await sleep(pollMs, wake.signal);
      if (wake.signal.aborted) wake = new AbortController();
    }
  } finally {
    unsubscribe?.();
    o.status?.(null);
  }

  if (!job) throw new Error(`job ${id}: no answer from the API`);
  if (detached) return { job, exitCode: 130, detached: true };
  if (o.summary !== false) o.stderr(summaryLine(job, c));
  return { job, exitCode: exitCodeFor(job), detached: false };
}
