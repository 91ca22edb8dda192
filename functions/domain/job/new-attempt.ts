// The one place a new attempt is built and its escrow hold computed: a single job's placement, each rank
// of a gang's, and a service replica's renewal (the next period's hold) all use these.
import { holdAmount } from '../ledger/postings';
import type { Attempt, Job, Node } from '../model';

/** What placing `job` at `pricePerGpuHour` holds from its owner: a checker's canary (pinned) is a probe, not a purchase, and holds nothing. */
export function attemptHold(job: Pick<Job, 'pinNodeId' | 'resources' | 'maxDurationSeconds'>, pricePerGpuHour: number): number {
  return job.pinNodeId ? 0 : holdAmount(pricePerGpuHour, job.resources.gpus, job.maxDurationSeconds);
}

export type AttemptNode = Pick<Node, 'id' | 'pricePerGpuHour'> & Partial<Pick<Node, 'providerId'>>;

/** A fresh ASSIGNED attempt of `job` on `node`, numbered after `n` earlier ones; `rank` for a gang's. */
export function newAttempt(job: Job, node: AttemptNode, id: string, n: number, now: number, rank?: number): Attempt {
  return {
    id,
    n,
    ...(rank === undefined ? {} : { rank }),
    nodeId: node.id,
    status: 'ASSIGNED',
    assignedAt: now,
    pricePerGpuHour: node.pricePerGpuHour,
    ...(node.providerId ? { providerId: node.providerId } : {}),
    hold: attemptHold(job, node.pricePerGpuHour),
  };
}
