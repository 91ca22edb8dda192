// gpupool jobs ls | get ID | logs ID [-f] | cancel ID
import type { Page } from '../answers';
import { seg, type Ctx } from '../context';
import { details, formatAge, formatCost, formatDuration, formatStatus, formatTime, table, truncate } from '../format';
import { parseInteger } from '../run-spec';
import type { ApiClient } from '../http';
import { FINAL_STATUSES as FINAL, watchJob, type ApiLike, type JobView, type LogItem, type LogsPage } from '../watch';

const runtimeOf = (j: JobView, now: number) => (j.startedAt ? (j.finishedAt ?? now) - j.startedAt : undefined);

export async function ls(ctx: Ctx, _args: string[], o: { limit?: string; cursor?: string; array?: string }) {
  const r = await ctx.api().get<Page<JobView>>('/v1/jobs', { limit: parseInteger(o.limit, '--limit', 1, 100), cursor: o.cursor, arrayId: o.array });
  if (ctx.json) return ctx.printJson(r);
  const now = ctx.io.now();
  if (!r.items.length) ctx.note('No jobs.');
  else {
    ctx.out(
      table(
        ['ID', 'NAME', 'STATUS', 'GPUS>', 'NODE', 'CREATED', 'RUNTIME>', 'EXIT>', 'COST>'],
        r.items.map((j) => [
          j.id,
          truncate(j.name, 24),
          formatStatus(j.status, ctx.c),
          j.resources?.gpus,
          j.nodeId,
          formatAge(j.createdAt, now),
          formatDuration(runtimeOf(j, now)),
          j.exitCode,
          formatCost(j.cost?.charged),
        ]),
        ctx.c,
      ),
    );
  }
  if (r.nextCursor) ctx.note(`More: gpupool jobs ls ${o.array ? `--array ${o.array} ` : ''}--cursor ${r.nextCursor}`);
}

export async function get(ctx: Ctx, [id]: string[]) {
  const r = await ctx.api().get<{ job: JobView & Record<string, any> }>(`/v1/jobs/${seg(id)}`);
  if (ctx.json) return ctx.printJson(r);
  const j = r.job;
  const now = ctx.io.now();
  const c = ctx.c;
  ctx.out(
    details(
      [
        ['id', j.id],
        ['name', j.name ?? undefined],
        ['status', formatStatus(j.status, c) + (j.reason ? ` (${j.reason})` : '')],
        ['pending', j.pendingReason ?? undefined],
        ['queue', j.queue ? formatQueue(j.queue, now) : undefined],
        ['after', Array.isArray(j.after) ? j.after.join(', ') : undefined],
        ['dependency', j.failedDependency ? `${j.failedDependency.id} ended ${j.failedDependency.status}` : undefined],
        ['array', j.array ? `${j.array.id} [${j.array.index} of 0-${j.array.size - 1}]` : undefined],
        ['command', Array.isArray(j.command) ? j.command.map(shellQuote).join(' ') : undefined],
        ['image', j.image ?? undefined],
        ['gpus', `${j.resources?.gpus ?? '?'}${j.resources?.gpuModels ? ` × ${j.resources.gpuModels.join('|')}` : ''}${j.resources?.minVramGb ? `, ≥${j.resources.minVramGb} GB` : ''}`],
        ['regions', j.placement?.regions?.join(', ') ?? undefined],
        ['node', j.nodeId ?? '-'],
        ['created', `${formatTime(j.createdAt)} (${formatAge(j.createdAt, now)})`],
        ['started', formatTime(j.startedAt)],
        ['finished', formatTime(j.finishedAt)],
        ['runtime', formatDuration(runtimeOf(j, now))],
        ['exit code', j.exitCode ?? '-'],
        ['cost', `${formatCost(j.cost?.charged)} credits${FINAL.has(j.status) ? '' : ' so far'} (${j.cost?.gpuSeconds ?? 0} GPU-seconds)`],
        ['held', j.cost?.held ? `${formatCost(j.cost.held)} credits in escrow` : undefined],
        ['refunded', j.cost?.refunded ? `${formatCost(j.cost.refunded)} credits` : undefined],
      ],
      c,
    ),
  );
  const attempts: any[] = j.attempts ?? [];
  if (attempts.length) {
    ctx.out(
      '\n' +
        table(
          ['#>', 'ATTEMPT', 'NODE', 'STATUS', 'REASON', 'ASSIGNED', 'RUNTIME>', 'EXIT>'],
          attempts.map((a, i) => [
            (a.n ?? i) + 1,
            a.id,
            a.nodeId,
            formatStatus(a.status, c),
            a.reason,
            formatTime(a.assignedAt),
            formatDuration(a.startedAt ? (a.finishedAt ?? now) - a.startedAt : undefined),
            a.exitCode,
          ]),
          c,
        ),
    );
  }
}

export async function logs(ctx: Ctx, [id]: string[], o: { follow?: boolean }) {
  const api = ctx.api();
  const path = `/v1/jobs/${seg(id)}`;
  if (o.follow) {
    // the same follower as `gpupool run`, without the status line or summary; Ctrl-C just stops.
    // With --json: one JSON object per line (NDJSON), as the lines arrive.
    const line = (l: LogItem) => ctx.out(JSON.stringify(l));
    await watchJob({
      api: ctx.json ? jsonLinesApi(api, line) : api,
      jobId: id,
      stdout: (t) => (ctx.json ? undefined : ctx.out(t)),
      stderr: (t) => (ctx.json ? undefined : ctx.err(t)),
      colors: ctx.ce,
      summary: false,
    });
    return;
  }
  const all = await allLogs(ctx, path);
  if (ctx.json) return ctx.printJson(all);
  for (const l of all.items) {
    if (l.stream === 'stdout') ctx.out(l.text);
    else ctx.err(l.stream === 'system' ? ctx.ce.dim(l.text) : l.text);
  }
}

/** An API that hands every log line it fetches to `onLine` as well (for `logs -f --json`). */
function jsonLinesApi(api: ApiClient, onLine: (l: LogItem) => void): ApiLike {
  return {
    del: (p) => api.del(p),
    get: async <T>(p: string, q?: Record<string, string | number | undefined>) => {
      const r = await api.get<T>(p, q);
      if (p.endsWith('/logs')) for (const l of (r as LogsPage).items ?? []) onLine(l);
      return r;
    },
  };
}

/** Every stored line, page by page. */
async function allLogs(ctx: Ctx, path: string): Promise<LogsPage> {
  const items: LogsPage['items'] = [];
  let after = -1;
  for (;;) {
    const page = await ctx.api().get<LogsPage>(`${path}/logs`, { after, limit: 1000 });
    items.push(...page.items);
    const last = Math.max(after, page.last ?? after);
    if (page.items.length < 1000 || last === after) return { items, last };
    after = last;
  }
}

export async function cancel(ctx: Ctx, [id]: string[]) {
  const r = await ctx.api().del<{ job: JobView; array?: { size: number; cancelled: number } }>(`/v1/jobs/${seg(id)}`);
  if (ctx.json) return ctx.printJson(r);
  // an array's id cancels its members (docs/api.md, Arrays)
  if (r.array) return ctx.out(`array ${id}: ${r.array.cancelled} of ${r.array.size} jobs cancelled (the others had ended)`);
  const s = r.job.status;
  ctx.out(s === 'CANCELLED' ? `job ${id} cancelled` : `job ${id}: cancel requested (now ${s}); it ends CANCELLED once its node stops it`);
}

/** `#3 of the jobs waiting for this kind of GPU, 2 ahead, start by ~14:05 (in 12m)` */
export function formatQueue(q: { position: number | null; ahead: number | null; estimatedStartAt: number | null }, now: number): string {
  if (q.position === null) return 'deeper than the part of the queue read';
  const eta = q.estimatedStartAt === null ? 'no start estimate' : `may start by ${formatTime(q.estimatedStartAt)} (${q.estimatedStartAt <= now ? 'now' : `in ${formatDuration(q.estimatedStartAt - now)}`})`;
  return `#${q.position} among jobs waiting for the same GPUs (${q.ahead ?? 0} job(s) ahead in all), ${eta}`;
}

/** Quotes a word for display like a POSIX shell would need it. */
export function shellQuote(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
