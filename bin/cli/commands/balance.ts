// gpupool balance: GET /v1/balance in credits.
import type { Ctx } from '../context';
import { formatCredits } from '../format';

export async function balance(ctx: Ctx) {
  const b = await ctx.api().get<{ available: number; held: number; staked: number }>('/v1/balance');
  if (ctx.json) return ctx.printJson(b);
  const rows: [string, number][] = [
    ['available', b.available],
    ['held', b.held],
    ['staked', b.staked],
  ];
  const values = rows.map(([, v]) => formatCredits(v));
  const w = Math.max(...values.map((v) => v.length));
  ctx.out(rows.map(([k], i) => `${ctx.c.dim(`${k}:`.padEnd(11))}${values[i].padStart(w)}`).join('\n'));
}
