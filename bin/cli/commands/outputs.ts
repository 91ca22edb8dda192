// gpupool outputs JOB [--to DIR]: the files a job's last finished attempt left in $GPUPOOL_OUTPUT_DIR;
// with --to, downloaded (and checked) under DIR.
import type { Ctx } from '../context';
import { downloadOutputs, type OutputItem } from '../files';
import { seg } from '../context';
import { table } from '../format';

export async function outputs(ctx: Ctx, [jobId]: string[], o: { to?: string }) {
  if (o.to) {
    const items = await downloadOutputs(ctx, jobId, o.to);
    if (ctx.json) return ctx.printJson({ items: items.map(({ url: _u, ...i }) => i) });
    ctx.note(items.length ? `Downloaded ${items.length} file(s) to ${o.to}.` : 'No outputs.');
    return;
  }
  const r = await ctx.api().get<{ items: OutputItem[] }>(`/v1/jobs/${seg(jobId)}/outputs`);
  if (ctx.json) return ctx.printJson(r);
  if (!r.items.length) return ctx.note('No outputs.');
  ctx.out(table(['PATH', 'SIZE>', 'SHA256'], r.items.map((i) => [i.path, i.size, i.sha256.slice(0, 16)])));
}
