// gpupool stake AMOUNT | unstake AMOUNT (providers): POST /v1/stake | /v1/unstake, amounts typed in credits.
import type { Ctx } from '../context';
import { formatCredits, formatTime } from '../format';
import { creditsArg, DEFAULT_SYMBOL, exactCredits } from '../ledger-view';
import type { StakeAnswer, UnstakeAnswer } from '../answers';

export async function stake(ctx: Ctx, [amount]: string[]) {
  const micro = creditsArg(amount, 'AMOUNT');
  const b = await ctx.api().post<StakeAnswer>('/v1/stake', { amount: micro });
  if (ctx.json) return ctx.printJson(b);
  const sym = b.symbol ?? DEFAULT_SYMBOL;
  ctx.out(`staked ${exactCredits(micro)} ${sym}; stake now ${formatCredits(b.staked)} ${sym} (${formatCredits(b.stakeFree)} free, ${formatCredits(b.stakeLocked)} locked for nodes), available ${formatCredits(b.available)} ${sym}`);
}

export async function unstake(ctx: Ctx, [amount]: string[]) {
  const micro = creditsArg(amount, 'AMOUNT');
  const b = await ctx.api().post<UnstakeAnswer>('/v1/unstake', { amount: micro });
  if (ctx.json) return ctx.printJson(b);
  const sym = b.symbol ?? DEFAULT_SYMBOL;
  ctx.out(`unstaking ${exactCredits(micro)} ${sym}: available again after ${formatTime(b.releaseAt)}; ${formatCredits(b.unbonding)} ${sym} unbonding, ${formatCredits(b.stakeFree)} ${sym} free stake left`);
}
