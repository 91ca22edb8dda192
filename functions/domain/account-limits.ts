// Per-account limits an admin sets (issue 14, item 7): the highest priority a job may ask for, how many
// jobs may wait at once, how many GPUs the account's live attempts may hold, and how much escrow its
// placements may hold per UTC day. Pure rules; the counters they compare with live on the account item and
// move in the same transaction as the job write that changes them (store/account-usage.ts), so a burst of
// concurrent submits or placements can never pass a limit (docs/scheduling.md, "Account limits").
import * as z from 'zod';
import { DomainError, forbidden } from './errors';
import type { Account, Job } from './model';
import { BUCKETS, type Bucket } from './ledger/model';

export interface AccountLimits {
  /** the highest `priority` a job of the account may ask for (-100 … 100); above it the submit is refused */
  maxPriority: number;
  /** jobs of the account waiting (QUEUED) at once; a submit beyond it is refused */
  maxQueuedJobs: number;
  /** GPUs the account's live attempts hold at once (a gang counts every rank's); beyond it a job waits */
  maxGpus: number;
  /** micro-credits of escrow holds placed per UTC day; null: no limit. Beyond it a job waits */
  maxSpendPerDay: number | null;
}

/** What an account may do when no admin said otherwise (deployment settings may change each: deps.ts). */
export const DEFAULT_ACCOUNT_LIMITS: AccountLimits = { maxPriority: 100, maxQueuedJobs: 1000, maxGpus: 64, maxSpendPerDay: null };

export const LIMIT_NAMES = ['maxPriority', 'maxQueuedJobs', 'maxGpus', 'maxSpendPerDay'] as const;

/** What an admin sends: each limit to set, or null to go back to the deployment's default. */
export const AccountLimitsPatchSchema = z
  .strictObject({
    maxPriority: z.number().int().min(-100).max(100).nullable().optional(),
    maxQueuedJobs: z.number().int().min(0).max(1_000_000).nullable().optional(),
    maxGpus: z.number().int().min(0).max(1_000_000).nullable().optional(),
    maxSpendPerDay: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'name at least one limit' });
export type AccountLimitsPatch = z.infer<typeof AccountLimitsPatchSchema>;

/** The counters an account item carries next to its balances. */
export interface AccountUsage {
  queuedJobs: number;
  gpusInUse: number;
  /** the UTC day `spentToday` counts, YYYY-MM-DD */
  spendDay?: string;
  spentToday: number;
}

/**
 * The account item as stored: balances, the limits an admin set (unset ones come from the deployment),
 * `limitsVersion` (bumped by every change of them: writes conditioned on limits they read try again after
 * one) and the counters.
 */
export type AccountItem = Partial<Account> & Partial<AccountUsage> & { limits?: Partial<AccountLimits>; limitsVersion?: number };

/** A job submitted by a consumer is counted in its account's limits (a flag the job keeps); canaries are not. */
export type CountedJob = Job & { limitsCounted?: true };
export const isCounted = (job: Job) => (job as CountedJob).limitsCounted === true;

export const utcDay = (now: number) => new Date(now).toISOString().slice(0, 10);

export function effectiveLimits(account: Pick<AccountItem, 'limits'> | undefined, defaults: AccountLimits = DEFAULT_ACCOUNT_LIMITS): AccountLimits {
  const set = account?.limits ?? {};
  return {
    maxPriority: set.maxPriority ?? defaults.maxPriority,
    maxQueuedJobs: set.maxQueuedJobs ?? defaults.maxQueuedJobs,
    maxGpus: set.maxGpus ?? defaults.maxGpus,
    maxSpendPerDay: set.maxSpendPerDay ?? defaults.maxSpendPerDay,
  };
}

/** The limits an admin set after `patch` (null removes one: the default applies again). */
export function patchedLimits(set: Partial<AccountLimits> | undefined, patch: AccountLimitsPatch): Partial<AccountLimits> {
  const out: Record<string, number | null> = { ...(set ?? {}) };
  for (const k of LIMIT_NAMES) {
    if (!(k in patch)) continue;
    const v = patch[k];
    if (v === null || v === undefined) delete out[k];
    else out[k] = v;
  }
  return out as Partial<AccountLimits>;
}

/** The account's counters as of `today` (yesterday's spend counts for nothing). */
export function usageOf(account: AccountItem | undefined, today: string): AccountUsage {
  const sameDay = account?.spendDay === today;
  return { queuedJobs: account?.queuedJobs ?? 0, gpusInUse: account?.gpusInUse ?? 0, spendDay: account?.spendDay, spentToday: sameDay ? (account?.spentToday ?? 0) : 0 };
}

/** Every GPU a job holds when placed: a gang's on each of its nodes. */
export const jobGpus = (job: Pick<Job, 'resources'>) => job.resources.gpus * job.resources.nodes;

/** GPUs the job's live attempts hold (one attempt per rank of a gang). */
export const liveGpus = (job: Pick<Job, 'attempts' | 'resources'>) =>
  job.attempts.filter((a) => a.status === 'ASSIGNED' || a.status === 'RUNNING').length * job.resources.gpus;

/**
 * Admission (submit): refused before anything is written. Priority above the account's cap is refused, not
 * clamped (like Kubernetes' PriorityClass admission or Slurm's QOS MaxPrio with DenyOnLimit): the consumer
 * learns at once that the job would not be ordered as it asked. A job needing more GPUs than the account may
 * ever hold could never run, so it is refused too. The queue limit is a conditional write (store).
 */
export function admissionError(job: Pick<Job, 'priority' | 'resources'>, limits: AccountLimits): DomainError | undefined {
  if (job.priority > limits.maxPriority)
    return forbidden(`priority ${job.priority} is above this account's highest allowed priority ${limits.maxPriority} (an admin sets it: GET /v1/accounts/{id}/limits)`);
  if (jobGpus(job) > limits.maxGpus)
    return forbidden(`the job needs ${jobGpus(job)} GPUs at once, more than this account may hold (maxGpus ${limits.maxGpus}); it could never run`);
  return undefined;
}

export const queueFull = (limits: AccountLimits, adding: number) =>
  forbidden(`this account may have at most ${limits.maxQueuedJobs} jobs waiting; ${adding === 1 ? 'this job' : `these ${adding} jobs`} would pass it: wait for some to be placed or cancel some`);

/** Why a job waits for its account's GPU limit, or undefined when it fits. */
export function gpuWait(limits: AccountLimits, usage: AccountUsage, gpus: number): string | undefined {
  if (usage.gpusInUse + gpus <= limits.maxGpus) return undefined;
  return `account limit: ${usage.gpusInUse} of the account's ${limits.maxGpus} GPUs are in use and this job needs ${gpus}; it waits until the account's other jobs end`;
}

/** Why a hold of `hold` waits for the account's daily spend limit, or undefined when it fits. */
export function spendWait(limits: AccountLimits, usage: AccountUsage, hold: number, symbol: string): string | undefined {
  if (limits.maxSpendPerDay === null || usage.spentToday + hold <= limits.maxSpendPerDay) return undefined;
  const c = (n: number) => n / 1_000_000;
  return `account limit: escrow holds placed today (UTC) are ${c(usage.spentToday)} of the account's ${c(limits.maxSpendPerDay)} ${symbol} a day and this placement holds ${c(hold)}; it waits for the next UTC day or a higher limit`;
}

/** How one job write moves its account's counters (only for jobs counted against the limits: submitted ones). */
export interface UsageDelta {
  queued: number;
  gpus: number;
  /** escrow held by this write */
  spend: number;
}

export function usageDelta(before: Job | undefined, after: Job, held: number): UsageDelta {
  if (!isCounted(after)) return { queued: 0, gpus: 0, spend: 0 };
  const queued = (after.status === 'QUEUED' ? 1 : 0) - (before?.status === 'QUEUED' ? 1 : 0);
  return { queued, gpus: liveGpus(after) - (before ? liveGpus(before) : 0), spend: held };
}

/** What a conditional write of the account's counters was conditioned on (what the writer read). */
export interface UsageGuard {
  limits: AccountLimits;
  /** the account's limitsVersion as read (0: never set): an admin's change makes the write try again */
  version: number;
  /** the account's spendDay as read, and the day the write counts in */
  spendDay?: string;
  today: string;
}

export type Refusal = 'stale' | 'funds' | 'gpus' | 'spend' | 'queue';

/**
 * Which condition refused a write of the account item, from the item as it was (DynamoDB returns it with
 * the cancellation). `debits`: the ledger buckets the write took from (they must cover it).
 */
export function refusedBy(old: AccountItem | undefined, delta: UsageDelta, guard: UsageGuard | undefined, debits: Partial<Record<Bucket, number>>): Refusal {
  if (guard && (old?.limitsVersion ?? 0) !== guard.version) return 'stale';
  if (guard && delta.spend > 0 && (old?.spendDay === guard.today) !== (guard.spendDay === guard.today)) return 'stale';
  for (const b of BUCKETS) if ((debits[b] ?? 0) > 0 && ((old?.[b] as number | undefined) ?? 0) < debits[b]!) return 'funds';
  if (guard && delta.gpus > 0 && (old?.gpusInUse ?? 0) + delta.gpus > guard.limits.maxGpus) return 'gpus';
  if (guard && delta.spend > 0 && guard.limits.maxSpendPerDay !== null) {
    const spent = old?.spendDay === guard.today ? (old?.spentToday ?? 0) : 0;
    if (spent + delta.spend > guard.limits.maxSpendPerDay) return 'spend';
  }
  if (guard && delta.queued > 0 && (old?.queuedJobs ?? 0) + delta.queued > guard.limits.maxQueuedJobs) return 'queue';
  return 'stale';
}
