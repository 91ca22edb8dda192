// What the API shows of a job: no internal fields, with the metered cost of its attempts.
// Attempts lost through the node's fault are not charged (DESIGN: faults lose no credit).
import type { Attempt, Job } from '../model';

export interface JobCost {
  /** micro-credits for metered GPU-seconds so far */
  charged: number;
  gpuSeconds: number;
}

const CHARGED: readonly Attempt['status'][] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

export function meteredCost(job: Job, now: number): JobCost {
  let charged = 0;
  let gpuSeconds = 0;
  for (const a of job.attempts) {
    if (!a.startedAt || !CHARGED.includes(a.status)) continue;
    const seconds = Math.max(0, ((a.finishedAt ?? now) - a.startedAt) / 1000);
    gpuSeconds += seconds * job.resources.gpus;
    // integer micro-credits, rounded down per attempt so the consumer is never over-charged
    charged += Math.floor((seconds * job.resources.gpus * a.pricePerGpuHour) / 3600);
  }
  return { charged, gpuSeconds: Math.round(gpuSeconds * 1000) / 1000 };
}

export function jobView(job: Job, now: number) {
  const { version: _v, cancelRequested, ...rest } = job;
  return {
    ...rest,
    reason: job.reason ?? null,
    pendingReason: job.status === 'QUEUED' ? (job.pendingReason ?? null) : null,
    nodeId: job.nodeId ?? null,
    startedAt: job.startedAt ?? null,
    finishedAt: job.finishedAt ?? null,
    exitCode: job.exitCode ?? null,
    ...(cancelRequested ? { cancelRequestedAt: cancelRequested } : {}),
    cost: meteredCost(job, now),
  };
}
