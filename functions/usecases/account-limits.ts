// Per-account limits (domain/account-limits.ts): an admin sets them, the account and admins read them, and
// submit and placement read the account once to condition their writes on them.
import {
  effectiveLimits,
  LIMIT_NAMES,
  patchedLimits,
  usageOf,
  utcDay,
  type AccountItem,
  type AccountLimits,
  type AccountLimitsPatch,
  type AccountUsage,
  type UsageGuard,
} from '../domain/account-limits';
import { conflict, forbidden, notFound } from '../domain/errors';
import type { Caller } from '../domain/model';
import { assertSelfOrAdmin } from './accounts';
import type { Deps } from './deps';

export interface AccountView {
  item: AccountItem | undefined;
  limits: AccountLimits;
  usage: AccountUsage;
  guard: UsageGuard;
}

/** The account as a submit or placement conditions its writes on (`consistent`: after a refused write). */
export async function accountView(d: Deps, accountId: string, consistent = false): Promise<AccountView> {
  const item = await d.accounts.item(accountId, consistent);
  const today = utcDay(d.now());
  const limits = effectiveLimits(item, d.settings.accountLimits);
  return { item, limits, usage: usageOf(item, today), guard: { limits, version: item?.limitsVersion ?? 0, spendDay: item?.spendDay, today } };
}

/** What GET/PATCH /v1/accounts/{id}/limits answer. */
function limitsBody(d: Deps, accountId: string, v: AccountView) {
  const set = v.item?.limits ?? {};
  return {
    accountId,
    limits: v.limits,
    // which of them an admin set; the others are the deployment's defaults
    set: Object.fromEntries(LIMIT_NAMES.map((k) => [k, k in set])),
    usage: { queuedJobs: v.usage.queuedJobs, gpusInUse: v.usage.gpusInUse, spentToday: v.usage.spentToday, day: v.guard.today },
    symbol: d.settings.ledger.symbol,
  };
}

export async function getAccountLimits(d: Deps, caller: Caller, accountId: string) {
  assertSelfOrAdmin(caller, accountId);
  const v = await accountView(d, accountId, true);
  if (!v.item?.role) throw notFound('account');
  return limitsBody(d, accountId, v);
}

/** Admin only: sets (or, with null, resets to the default) each limit named. Takes effect for the next write. */
export async function setAccountLimits(d: Deps, caller: Caller, accountId: string, patch: AccountLimitsPatch) {
  if (caller.role !== 'admin') throw forbidden('only an admin sets account limits');
  for (let tries = 0; tries < 5; tries++) {
    const v = await accountView(d, accountId, true);
    if (!v.item?.role) throw notFound('account');
    if (await d.accounts.setLimits(accountId, patchedLimits(v.item.limits, patch), v.guard.version)) return limitsBody(d, accountId, await accountView(d, accountId, true));
  }
  throw conflict('the account changed concurrently; try again');
}
