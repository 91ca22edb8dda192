// gpupool credits mint ACCOUNT AMOUNT [--memo M] (admins): POST /v1/accounts/{id}/credits, the only way
// credits come into being. Also `accounts credit ID --amount` (the older spelling).
import type { Ctx } from '../context';
import { formatCredits } from '../format';
import { creditsArg, exactCredits } from '../ledger-view';

export async function mint(ctx: Ctx, [account, amount]: string[], o: { memo?: string }) {
  const micro = creditsArg(amount, 'AMOUNT');
  const r = await mintCredits(ctx, account, micro, o.memo);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(`minted ${exactCredits(micro)} to ${r.accountId ?? account}; available now ${formatCredits(r.available)}`);
}

/** One Idempotency-Key for every try: a retry after a lost answer never mints twice. */
export async function mintCredits(ctx: Ctx, account: string, micro: number, memo?: string) {
  return ctx.api().mintCredits(account, { amount: micro, ...(memo ? { memo } : {}) });
}
