// gpupool balance: GET /v1/balance, every bucket in credits with the pool's symbol.
import type { Ctx } from '../context';
import { formatCredits } from '../format';
import { DEFAULT_SYMBOL, type BalanceView } from '../ledger-view';

export async function balance(ctx: Ctx) {
  const b = await ctx.api().get<BalanceView>('/v1/balance');
  if (ctx.json) return ctx.printJson(b);
  const symbol = b.symbol ?? DEFAULT_SYMBOL;
  // stake rows only where they can be non-zero: consumers never stake
  const staking = b.role === 'provider' || Boolean(b.staked || b.unbonding);
  const rows: [string, number | undefined][] = [
    ['available', b.available],
    ['held', b.held],
    ...(staking
      ? ([
          ['staked', b.staked],
          ['  free', b.stakeFree],
          ['  locked', b.stakeLocked],
          ['unbonding', b.unbonding],
        ] as [string, number | undefined][])
      : []),
  ];
  const shown = rows.filter(([, v]) => v !== undefined) as [string, number][];
  const values = shown.map(([, v]) => formatCredits(v));
  const kw = Math.max(...shown.map(([k]) => k.length)) + 1;
  const vw = Math.max(...values.map((v) => v.length));
  if (b.accountId) ctx.note(`account ${b.accountId} (${b.role})`);
  ctx.out(shown.map(([k], i) => `${ctx.c.dim(`${k}:`.padEnd(kw))}  ${values[i].padStart(vw)} ${symbol}`).join('\n'));
}
