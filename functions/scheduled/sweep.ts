// Places jobs that wait. Two triggers: the EventBridge schedule (a full sweep: every account's queue,
// the global head) and the placement queue, woken by freed capacity (placement-wake.ts): a bounded sweep
// of the accounts that wait, for each batch of wakes. Most placements still happen on submit.
import type { SQSEvent } from 'aws-lambda';
import { deps } from '../usecases/deps';
import { withMetrics } from '../usecases/metrics';
import { sweep } from '../usecases/placement';

/** the most jobs a woken sweep places: a bounded sweep per wake in the batch, as the inline one was */
const WOKEN_MAX_JOBS = 64;

export const handler = withMetrics(async (event?: Partial<SQSEvent>) => {
  const wakes = Array.isArray(event?.Records) ? event.Records.length : 0;
  const placed = await sweep(deps(), wakes > 0 ? { maxJobs: Math.min(WOKEN_MAX_JOBS, 8 * wakes) } : {});
  console.log(JSON.stringify({ level: 'info', msg: 'sweep', placed, ...(wakes > 0 ? { wakes } : {}) }));
  return { placed };
});
