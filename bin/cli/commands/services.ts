// gpupool serve … | services ls | get ID | scale ID | update ID | logs ID | rm ID (docs/services.md)
import { seg, type Ctx } from '../context';
import { UsageError } from '../errors';
import { details, formatAge, formatStatus, formatTime, table, truncate } from '../format';
import { parseInteger } from '../run-spec';
import type { Service, View } from '../answers';
import { buildServiceBody, buildServicePatch, parseReplicas, type ServeOptions } from '../service-spec';

/** a service as the CLI reads it; a list's items carry no replicas (docs/api.md, The schemas) */
export type ServiceView = View<Service, 'id' | 'name' | 'status' | 'statusReason' | 'url' | 'generation' | 'createdAt', 'replicas' | 'replicasWanted'>;

const replicasOf = (s: ServiceView) => s.replicas ?? [];
const readyCount = (s: ServiceView) => replicasOf(s).filter((r) => r.ready).length;

export async function serve(ctx: Ctx, command: string[], o: ServeOptions & { detach?: boolean; waitSeconds?: string; pollInterval?: string }) {
  const body = buildServiceBody(command, o, ctx.io.env);
  const waitMs = (parseInteger(o.waitSeconds, '--wait-seconds', 1, 86_400) ?? 600) * 1000;
  const pollMs = parseInteger(o.pollInterval, '--poll-interval', 10, 60_000) ?? 500;
  const api = ctx.api();
  const created = await api.post<{ service: ServiceView; token: string }>('/v1/services', body);
  const s = created.service;
  if (!ctx.json) {
    ctx.out(s.id);
    ctx.note(`Service ${s.name} (${s.id}) created: ${s.url}`);
    ctx.note(`Its token, shown this once (send it as "Authorization: Bearer <token>"): ${created.token}`);
  }
  if (o.detach) {
    if (ctx.json) ctx.printJson(created);
    return 0;
  }
  // wait until the wanted replicas answer their readiness probe, as `kubectl rollout status` does
  const deadline = ctx.io.now() + waitMs;
  let last = s;
  let shown = '';
  for (;;) {
    const want = last.replicasWanted?.desired ?? body.replicas.min;
    const line = `${last.status.toLowerCase()}: ${readyCount(last)}/${want} replicas ready`;
    if (!ctx.json && line !== shown) ctx.note(line);
    shown = line;
    if (last.status === 'RUNNING' && readyCount(last) >= want) break;
    if (last.status === 'SUSPENDED' || last.status === 'DELETED' || last.status === 'DELETING') {
      if (ctx.json) ctx.printJson({ ...created, service: last });
      else ctx.err(`service ${last.id} is ${last.status}${last.statusReason ? `: ${last.statusReason}` : ''}`);
      return 1;
    }
    if (ctx.io.now() > deadline) {
      if (ctx.json) ctx.printJson({ ...created, service: last });
      else ctx.err(`service ${last.id} not ready after ${waitMs / 1000} s; see gpupool services get ${last.id}`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, pollMs));
    last = (await api.get<{ service: ServiceView }>(`/v1/services/${seg(s.id)}`)).service;
  }
  if (ctx.json) ctx.printJson({ ...created, service: last });
  else ctx.note(`Ready: curl -H "Authorization: Bearer <token>" ${last.url}/`);
  return 0;
}

export async function ls(ctx: Ctx, _args: string[], o: { limit?: string; cursor?: string }) {
  const r = await ctx.api().get<{ items: ServiceView[]; nextCursor?: string | null }>('/v1/services', { limit: parseInteger(o.limit, '--limit', 1, 100), cursor: o.cursor });
  if (ctx.json) return ctx.printJson(r);
  const now = ctx.io.now();
  if (!r.items.length) ctx.note('No services.');
  else
    ctx.out(
      table(
        ['ID', 'NAME', 'STATUS', 'READY>', 'URL', 'CREATED'],
        r.items.map((s) => [s.id, truncate(s.name, 24), formatStatus(s.status, ctx.c), `${s.replicas ? readyCount(s) : '-'}/${s.replicasWanted?.desired ?? '-'}`, s.url ?? '-', formatAge(s.createdAt, now)]),
        ctx.c,
      ),
    );
  if (r.nextCursor) ctx.note(`More: gpupool services ls --cursor ${r.nextCursor}`);
}

export async function get(ctx: Ctx, [id]: string[]) {
  const r = await ctx.api().get<{ service: ServiceView }>(`/v1/services/${seg(id)}`);
  if (ctx.json) return ctx.printJson(r);
  const s = r.service;
  const w = s.replicasWanted;
  ctx.out(
    details(
      [
        ['id', s.id],
        ['name', s.name],
        ['status', formatStatus(s.status, ctx.c) + (s.statusReason ? ` (${s.statusReason})` : '')],
        ['url', s.url ?? '-'],
        ['replicas', w ? `${readyCount(s)} ready of ${w.desired} wanted (min ${w.min}, max ${w.max})` : String(replicasOf(s).length)],
        ['generation', s.generation],
        ['created', formatTime(s.createdAt)],
      ],
      ctx.c,
    ),
  );
  if (replicasOf(s).length)
    ctx.out(
      '\n' +
        table(
          ['REPLICA', 'NODE', 'STATUS', 'READY', 'GEN>', 'ENDPOINT'],
          replicasOf(s).map((x) => [x.id, x.nodeId ?? '-', formatStatus(x.status, ctx.c), x.ready ? 'yes' : 'no', x.generation, x.endpoint ?? '-']),
          ctx.c,
        ),
    );
}

export async function scale(ctx: Ctx, [id]: string[], o: Pick<ServeOptions, 'replicas' | 'min' | 'max'>) {
  const replicas = parseReplicas(o, false);
  if (!replicas) throw new UsageError('give --replicas N, or --min and/or --max');
  return patch(ctx, id, { replicas }, `replicas ${replicas.min === replicas.max ? replicas.min : `${replicas.min}..${replicas.max}`}`);
}

export async function update(ctx: Ctx, [id]: string[], o: ServeOptions) {
  const body = buildServicePatch(o, ctx.io.env);
  return patch(ctx, id, body, 'image' in body || 'env' in body ? 'rolling update started (a new replica is ready before an old one stops)' : 'updated');
}

async function patch(ctx: Ctx, id: string, body: object, what: string) {
  const r = await ctx.api().patch<{ service: ServiceView }>(`/v1/services/${seg(id)}`, body);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(`service ${id}: ${what}; now ${r.service.status.toLowerCase()}`);
}

/** Every replica's output, one after the other, each line prefixed with its replica (like `docker compose logs`). */
export async function logs(ctx: Ctx, [id]: string[], o: { replica?: string }) {
  const api = ctx.api();
  const s = (await api.get<{ service: ServiceView }>(`/v1/services/${seg(id)}`)).service;
  const replicas = o.replica ? replicasOf(s).filter((r) => r.id === o.replica) : replicasOf(s);
  if (o.replica && !replicas.length) throw new UsageError(`service ${id} has no replica ${o.replica}`);
  const out: Record<string, unknown[]> = {};
  for (const r of replicas) {
    const page = await api.get<{ items: { stream: string; text: string }[] }>(`/v1/jobs/${seg(r.id)}/logs`, { limit: 1000 });
    out[r.id] = page.items;
    if (ctx.json) continue;
    for (const l of page.items) {
      const line = `${ctx.ce.dim(r.id)} | ${l.text}`;
      if (l.stream === 'stdout') ctx.out(line);
      else ctx.err(line);
    }
  }
  if (ctx.json) ctx.printJson({ items: out });
}

export async function rm(ctx: Ctx, [id]: string[]) {
  const r = await ctx.api().del<{ service: ServiceView }>(`/v1/services/${seg(id)}`);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(`service ${id}: deleting (its replicas are stopped; it is gone once every one has ended)`);
}
