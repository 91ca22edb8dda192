// Places jobs that wait. Two triggers: the schedule (a full sweep: every account's queue, the global head)
// and the placement queue, woken by freed capacity (placement-wake.ts): a bounded sweep of the accounts
// that wait, for each batch of wakes. Most placements still happen on submit.
import type { SQSEvent } from 'aws-lambda';
import { logger } from '../observability/logger';
import { observed } from '../observability/invocation';
import { sweep } from '../usecases/placement';
import { lambdaRoot, type DepsRoot } from '../wiring/lambda-root';

/** the most jobs a woken sweep places: a bounded sweep per wake in the batch, as the inline one was */
const WOKEN_MAX_JOBS = 64;

export const sweepHandler = (root: DepsRoot) =>
  observed(() => root().metrics, async (event?: Partial<SQSEvent>) => {
    const wakes = Array.isArray(event?.Records) ? event.Records.length : 0;
    const placed = await sweep(root(), wakes > 0 ? { maxJobs: Math.min(WOKEN_MAX_JOBS, 8 * wakes) } : {});
    if (placed || wakes) logger.info('sweep', { placed, ...(wakes > 0 ? { wakes } : {}) });
    return { placed };
  });

export const handler = sweepHandler(lambdaRoot());
