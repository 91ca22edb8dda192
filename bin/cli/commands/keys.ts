// gpupool keys create | ls | revoke KEYID. The account is --account, else the profile's account id:
// the API has no "who am I", so a key cannot find out its own account.
import type { Key, Page } from '../answers';
import { seg, type Ctx } from '../context';
import { CliError, UsageError } from '../errors';
import { formatTime, table } from '../format';

function accountOf(ctx: Ctx, o: { account?: string }): string {
  const id = o.account ?? ctx.profile().accountId;
  if (!id) {
    throw new UsageError(
      'which account? pass --account ID, or save it in the profile: gpupool login --account ID (the API cannot tell a key its own account id)',
    );
  }
  return id;
}

/** The key's secret, which an answer shows once: an idempotent replay of the request shows null (its first
 * answer, the one with the secret, was lost), and then the key is of no use to anyone but an admin's revoke. */
export function shownKey(r: { keyId: string; apiKey: string | null }): string {
  if (r.apiKey !== null) return r.apiKey;
  throw new CliError(`key ${r.keyId} was made by an earlier try of this request whose answer was lost, and its secret is not shown again: revoke it (gpupool keys revoke ${r.keyId}) and make another`);
}

export async function create(ctx: Ctx, _args: string[], o: { account?: string }) {
  const account = accountOf(ctx, o);
  // one Idempotency-Key on every try (docs/cli.md): a retry after a lost answer makes no second key
  const r = await ctx.api().createKey(account);
  if (ctx.json) return ctx.printJson(r);
  ctx.out(shownKey(r));
  ctx.note(`Key ${r.keyId} for account ${account}. It is shown only now: store it somewhere safe.`);
}

export async function ls(ctx: Ctx, _args: string[], o: { account?: string }) {
  const account = accountOf(ctx, o);
  const r = await ctx.api().get<Page<Key>>(
    `/v1/accounts/${seg(account)}/keys`,
  );
  if (ctx.json) return ctx.printJson(r);
  if (!r.items.length) return ctx.note('No keys.');
  ctx.out(
    table(
      ['KEY ID', 'ROLE', 'NODE', 'CREATED', 'REVOKED'],
      r.items.map((k) => [k.keyId, k.role, k.nodeId, formatTime(k.createdAt), k.revokedAt ? ctx.c.red(formatTime(k.revokedAt)) : '-']),
      ctx.c,
    ),
  );
}

export async function revoke(ctx: Ctx, [keyId]: string[]) {
  await ctx.api().del(`/v1/keys/${seg(keyId)}`);
  if (ctx.json) return ctx.printJson({ keyId, revoked: true });
  ctx.out(`key ${keyId} revoked (in effect within a minute)`);
}
