// gpupool nodes ls | get ID | drain ID | undrain ID | scores ID
import type { Node, Page, View } from '../answers';
import { seg, type Ctx } from '../context';
import { details, formatAge, formatCredits, formatScore, formatStatus, formatTime, table } from '../format';
import { parseInteger } from '../run-spec';

type NodeView = View<Node, 'id' | 'name' | 'status' | 'region' | 'gpuModel' | 'vramGb' | 'totalGpus' | 'freeGpus' | 'pricePerGpuHour' | 'reputation', 'statusReason' | 'labels' | 'driverVersion' | 'cudaVersion' | 'location' | 'createdAt' | 'lastSeenAt' | 'providerId' | 'gpus'>;

const gpuText = (n: NodeView) => `${n.totalGpus}× ${n.gpuModel} ${n.vramGb} GB`;

export async function ls(ctx: Ctx, _args: string[], o: { limit?: string; cursor?: string }) {
  const r = await ctx.api().get<Page<NodeView>>('/v1/nodes', {
    limit: parseInteger(o.limit, '--limit', 1, 100),
    cursor: o.cursor,
  });
  if (ctx.json) return ctx.printJson(r);
  const now = ctx.io.now();
  if (!r.items.length) ctx.note('No nodes.');
  else {
    ctx.out(
      table(
        ['ID', 'NAME', 'STATUS', 'GPUS', 'FREE>', 'REGION', 'PRICE>', 'REPUTATION>', 'LAST SEEN'],
        r.items.map((n) => [
          n.id,
          n.name,
          formatStatus(n.status, ctx.c),
          gpuText(n),
          n.freeGpus,
          n.region,
          formatCredits(n.pricePerGpuHour),
          formatScore(n.reputation),
          formatAge(n.lastSeenAt, now),
        ]),
        ctx.c,
      ),
    );
  }
  if (r.nextCursor) ctx.note(`More: gpupool nodes ls --cursor ${r.nextCursor}`);
}

function showNode(ctx: Ctx, n: NodeView) {
  const now = ctx.io.now();
  ctx.out(
    details(
      [
        ['id', n.id],
        ['name', n.name],
        ['status', formatStatus(n.status, ctx.c) + (n.statusReason ? ` (${n.statusReason})` : '')],
        ['gpus', gpuText(n)],
        ['free gpus', n.freeGpus],
        ['region', n.region],
        ['location', n.location ? `${n.location.lat}, ${n.location.lon}` : undefined],
        ['price', `${formatCredits(n.pricePerGpuHour)} credits per GPU-hour`],
        ['reputation', formatScore(n.reputation)],
        ['driver', n.driverVersion ? `${n.driverVersion}${n.cudaVersion ? ` (CUDA ${n.cudaVersion})` : ''}` : undefined],
        ['labels', n.labels && Object.keys(n.labels).length ? Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(', ') : undefined],
        ['provider', n.providerId],
        ['created', formatTime(n.createdAt)],
        ['last seen', n.lastSeenAt ? `${formatTime(n.lastSeenAt)} (${formatAge(n.lastSeenAt, now)})` : '-'],
      ],
      ctx.c,
    ),
  );
}

export async function get(ctx: Ctx, [id]: string[]) {
  const r = await ctx.api().get<{ node: NodeView }>(`/v1/nodes/${seg(id)}`);
  if (ctx.json) return ctx.printJson(r);
  showNode(ctx, r.node);
}

async function setDrain(ctx: Ctx, id: string, drain: boolean) {
  const r = await ctx.api().patch<{ node: NodeView }>(`/v1/nodes/${seg(id)}`, { drain });
  if (ctx.json) return ctx.printJson(r);
  ctx.out(`node ${id} is ${r.node.status}${drain ? ': it takes no new work; running jobs finish' : ''}`);
}

export const drain = (ctx: Ctx, [id]: string[]) => setDrain(ctx, id, true);
export const undrain = (ctx: Ctx, [id]: string[]) => setDrain(ctx, id, false);

export async function scores(ctx: Ctx, [id]: string[]) {
  // GET /v1/nodes/{id}/scores is in the design but may not be served yet: its problem is shown as is
  const r = await ctx.api().get<{ items?: Record<string, unknown>[] } & Record<string, unknown>>(`/v1/nodes/${seg(id)}/scores`);
  if (ctx.json || !Array.isArray(r?.items)) return ctx.printJson(r);
  if (!r.items.length) return ctx.note('No scores yet.');
  const keys = [...new Set(r.items.flatMap((x) => Object.keys(x)))];
  const cell = (k: string, v: unknown) =>
    v === null || v === undefined ? '-' : /(At|ts)$/.test(k) && typeof v === 'number' ? formatTime(v) : typeof v === 'object' ? JSON.stringify(v) : String(v);
  ctx.out(table(keys.map((k) => k.toUpperCase()), r.items.map((x) => keys.map((k) => cell(k, x[k]))), ctx.c));
}
