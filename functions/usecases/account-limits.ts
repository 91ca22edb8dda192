// Per-account limits (domain/account-limits.ts): an admin sets them, the account and admins read them, and
// submit and placement read the account once to condition their writes on them.
import {
  effectiveLimits,
  gpuWait,
  isCounted,
  jobGpus,
  spendWait,
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
import { notFound } from '../domain/errors';
import type { Caller, Job } from '../domain/model';
import { AccountLimitError, StaleAccountError } from '../store/account-usage';
import { assertAdmin, assertSelfOrAdmin } from './accounts';
import type { Deps } from './deps';
import { isLostRace, LostRaceError, retrying } from './retry';

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
  assertAdmin(caller, 'sets account limits');
  return retrying(
    async () => {
      const v = await accountView(d, accountId, true);
      if (!v.item?.role) throw notFound('account');
      if (!(await d.accounts.setLimits(accountId, patchedLimits(v.item.limits, patch), v.guard.version))) throw new LostRaceError('the account changed concurrently; try again');
      return limitsBody(d, accountId, await accountView(d, accountId, true));
    },
    { retries: SET_LIMITS_RETRIES, on: isLostRace },
  );
}

// another admin's change moved the account's limits version since it was read: read it again
const SET_LIMITS_RETRIES = 4;

/** A sweep reads each account once and keeps its counters current with its own placements. */
export class AccountCache {
  private readonly views = new Map<string, Promise<AccountView>>();
  constructor(private readonly d: Deps) {}
  get(accountId: string, fresh = false): Promise<AccountView> {
    if (fresh || !this.views.has(accountId)) this.views.set(accountId, accountView(this.d, accountId, fresh));
    return this.views.get(accountId)!;
  }
  /** what a placement of this sweep took: the next job of the account sees it without a read */
  async placed(accountId: string, gpus: number, hold: number): Promise<void> {
    const v = await this.views.get(accountId);
    if (!v) return;
    v.usage.gpusInUse += gpus;
    v.usage.spentToday += hold;
    v.usage.spendDay = v.guard.today;
    v.guard.spendDay = v.guard.today;
  }
}

export type Waits = { wait: string; limit: 'gpus' | 'spend' };

/**
 * Claims under the account's limits: `claim` is the placement's transaction, conditioned on `guard`. A
 * job over a limit waits (the answer says why) instead of being placed; the account read is taken from
 * `cache` (a sweep) or `first` (the submit's own read), and read again, consistently, after a refusal.
 */
export async function claimUnderLimits(
  d: Deps,
  job: Job,
  hold: number,
  claim: (guard: UsageGuard | undefined) => Promise<Job>,
  o: { cache?: AccountCache; first?: AccountView } = {},
): Promise<Job | Waits> {
  if (!isCounted(job)) return claim(undefined);
  const gpus = jobGpus(job);
  return retrying<Job | Waits>(
    async (attempt) => {
      const acct = attempt === 0 && o.first ? o.first : o.cache ? await o.cache.get(job.accountId, attempt > 0) : await accountView(d, job.accountId, attempt > 0);
      const g = gpuWait(acct.limits, acct.usage, gpus);
      if (g) return { wait: g, limit: 'gpus' };
      const s = spendWait(acct.limits, acct.usage, hold, d.settings.ledger.symbol);
      if (s) return { wait: s, limit: 'spend' };
      const placed = await claim(acct.guard);
      await o.cache?.placed(job.accountId, gpus, hold);
      return placed;
    },
    {
      retries: CLAIM_RETRIES,
      // the counters or limits moved since they were read: read them again (the wait then says which)
      on: (e) => e instanceof AccountLimitError || e instanceof StaleAccountError,
      exhausted: () => ({ wait: 'account limit: the account placed other jobs concurrently; waiting for the next sweep', limit: 'gpus' }),
    },
  );
}

// a placement reads the account again at most this many times, then waits for the next sweep (the count
// as it was; a submit's admit in jobs.ts retries 4 times, a renewal 3, for no recorded reason)
const CLAIM_RETRIES = 3;

export const isWait = (x: Job | Waits): x is Waits => 'wait' in x;
