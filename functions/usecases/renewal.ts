// Renews a service replica's billing period (domain/job/renewal.ts), or ends the replica when its owner
// cannot cover the next one. Run by the reaper on a job's 'renew' deadline; every step is the job's
// conditional transaction, so a reaper running twice, or a renewal racing the agent's finish, a cancel or
// a write-off, settles each period once.
import { spendWait, isCounted } from '../domain/account-limits';
import { endForCredits, renew } from '../domain/job/renewal';
import type { Job } from '../domain/model';
import { AccountLimitError, StaleAccountError } from '../store/account-usage';
import { InsufficientFundsError } from '../store/ledger-store';
import { accountView } from './account-limits';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { retrying } from './retry';
import { logger } from '../observability/logger';
import { attemptHold } from '../domain/job/new-attempt';

// another writer moved the job: read it again and re-make the transition (a renewal no longer due is refused)
const RACE_RETRIES = 4;

export type RenewalOutcome = { renewed: Job } | { ended: Job };

/**
 * Renews `job` at `now`. Throws a DomainError (conflict) when there is nothing to renew: the job ended, its
 * period was already renewed, a cancel is under way.
 */
export async function renewReplica(d: Deps, job: Job, now: number): Promise<RenewalOutcome> {
  try {
    return { renewed: await renewUnderLimits(d, job, now) };
  } catch (e) {
    if (!(e instanceof InsufficientFundsError || (e instanceof AccountLimitError && e.limit === 'spend'))) throw e;
  }
  // the consumer cannot cover the next period (its credits, or its own daily spend limit): the replica ends
  const fresh = (await d.jobs.get(job.id)) ?? job;
  const ended = await applyTransition(d, fresh, (j) => endForCredits(j, now), { retries: RACE_RETRIES });
  // serviceId, not service: Powertools' `service` is the function's own name (a reserved key)
  logger.info('replica ended: next billing period not covered', { jobId: job.id, accountId: job.accountId, serviceId: job.service?.id });
  return { ended };
}

/**
 * A counted job's renewal holds escrow, which the account's daily spend limit counts like a placement's
 * hold: the write is conditioned on the limits as read (jobs-store apply), read again when they moved.
 */
async function renewUnderLimits(d: Deps, job: Job, now: number): Promise<Job> {
  if (!isCounted(job)) return applyTransition(d, job, (j) => renew(j, now), { retries: RACE_RETRIES });
  const a = job.attempts.find((x) => x.id === job.liveAttemptId);
  const hold = a ? attemptHold(job, a.pricePerGpuHour) : 0;
  return retrying(
    async (attempt) => {
      const acct = await accountView(d, job.accountId, attempt > 0);
      if (spendWait(acct.limits, acct.usage, hold, d.settings.ledger.symbol)) throw new AccountLimitError('spend', job.accountId);
      return applyTransition(d, job, (j) => renew(j, now), { retries: RACE_RETRIES, guard: acct.guard });
    },
    // the limits moved, or another limit's counter: read the account again (the spend limit is the answer);
    // 3 retries as before (a submit's admit retries 4)
    { retries: 3, on: (e) => e instanceof StaleAccountError || (e instanceof AccountLimitError && e.limit !== 'spend') },
  );
}
