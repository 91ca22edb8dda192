// gpupool accounts create | get ID | credit ID (admins, except `get` of one's own account).
import type { CreateAccountRequest } from '../../../client/types';
import type { Account } from '../answers';
import { seg, type Ctx } from '../context';
import { UsageError } from '../errors';
import { details, formatCredits, formatTime, parseCredits } from '../format';
import { shownKey } from './keys';

export async function create(ctx: Ctx, _args: string[], o: { name: string; role: string }) {
  // one Idempotency-Key on every try (docs/cli.md): a retry after a lost answer makes no second account
  const r = await ctx.api().createAccount({ name: o.name, role: o.role as CreateAccountRequest['role'] });
  if (ctx.json) return ctx.printJson(r);
  const apiKey = shownKey(r);
  ctx.out(details([
    ['account', r.account.id],
    ['name', r.account.name],
    ['role', r.account.role],
    ['key id', r.keyId],
    ['api key', apiKey],
  ], ctx.c));
  const url = ctx.profile().apiUrl ?? 'URL';
  ctx.note(`The API key is shown only now. To use it: gpupool login --profile ${o.name.replace(/[^A-Za-z0-9_.-]/g, '-')} --api ${url} --key ${apiKey} --account ${r.account.id}`);
}

export async function get(ctx: Ctx, [id]: string[]) {
  const r = await ctx.api().get<Account>(`/v1/accounts/${seg(id)}`);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(details([
    ['account', r.id],
    ['name', r.name],
    ['role', r.role],
    ['created', formatTime(r.createdAt)],
    ['available', formatCredits(r.available)],
    ['held', formatCredits(r.held)],
    ['staked', formatCredits(r.staked)],
  ], ctx.c));
}

export async function credit(ctx: Ctx, [id]: string[], o: { amount: string; memo?: string }) {
  const amount = parseCredits(o.amount);
  if (amount === undefined || amount < 1) throw new UsageError(`--amount takes a positive number of credits, e.g. 100 or 2.5 (at most 6 decimals), got "${o.amount}"`);
  const { mintCredits } = await import('./credits');
  const r = await mintCredits(ctx, id, amount, o.memo);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(`credited ${formatCredits(amount, amount % 10_000 ? 6 : 2)} to ${r.accountId ?? id}; available now ${formatCredits(r.available)}`);
}
