// What the API shows of a job: no internal fields, with its cost as the ledger sees it.
// Attempts lost through the node's fault are not charged (DESIGN: faults lose no credit).
import type { Attempt, Job } from '../model';
import type { CountedJob } from '../account-limits';
import { meteredSince } from './pull';
import { attemptCharge } from './transitions';

export interface JobCost {
  /** micro-credits in escrow for the live attempt */
  held: number;
  /** micro-credits charged: settled attempts, plus the metered time of the live one so far */
  charged: number;
  /** micro-credits of holds given back at settlement */
  refunded: number;
  gpuSeconds: number;
}

const METERED: readonly Attempt['status'][] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

export function meteredCost(job: Job, now: number): JobCost {
  const cost: JobCost = { held: 0, charged: 0, refunded: 0, gpuSeconds: 0 };
  for (const a of job.attempts) {
    const live = a.finishedAt === undefined;
    const since = meteredSince(a);
    if (since !== undefined && METERED.includes(a.status)) cost.gpuSeconds += (Math.max(0, (a.finishedAt ?? now) - since) / 1000) * job.resources.gpus;
    // a service replica's periods already settled by its renewals (renewal.ts)
    cost.charged += a.segmentsCharged ?? 0;
    cost.refunded += a.segmentsReleased ?? 0;
    if (live) {
      cost.held += a.hold ?? 0;
      cost.charged += attemptCharge(job, a, a.status, now);
    } else if (a.hold) {
      cost.charged += a.charged ?? 0;
      cost.refunded += a.hold - (a.charged ?? 0);
    }
  }
  cost.gpuSeconds = Math.round(cost.gpuSeconds * 1000) / 1000;
  return cost;
}

export function jobView(job: Job, now: number) {
  // limitsCounted: internal (domain/account-limits.ts)
  const { version: _v, cancelRequested, limitsCounted: _l, held: _h, arrayMember, secretEnv, ...rest } = job as CountedJob;
  return {
    ...rest,
    // a secret's name as the consumer wrote it, never its value (docs/data.md, Secrets)
    ...(secretEnv ? { env: { ...job.env, ...Object.fromEntries(Object.entries(secretEnv).map(([k, s]) => [k, { secret: s }])) } } : {}),
    // which provider account a node belongs to is the provider's business
    attempts: job.attempts.map(({ providerId: _p, ...a }) => a),
    reason: job.reason ?? null,
    pendingReason: job.status === 'QUEUED' ? (job.pendingReason ?? null) : null,
    nodeId: job.nodeId ?? null,
    startedAt: job.startedAt ?? null,
    finishedAt: job.finishedAt ?? null,
    exitCode: job.exitCode ?? null,
    ...(cancelRequested ? { cancelRequestedAt: cancelRequested } : {}),
    cost: meteredCost(job, now),
    ...(arrayMember ? { array: arrayMember } : {}),
  };
}
