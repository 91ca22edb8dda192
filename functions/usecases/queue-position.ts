// A waiting job's place in the queue, for GET /v1/jobs/{id} only (never for lists). Bounded reads: the
// head of the sharded queue index (QUEUE_PER_SHARD per shard) and the active index's earliest deadlines
// (ACTIVE_PER_SHARD per shard): 16 queries and at most 800 items, eventually consistent
// (docs/scheduling.md, Queue position, for the cost).
import type { Job } from '../domain/model';
import { queuePosition, type QueuePosition } from '../domain/job/queue-position';
import type { Deps } from './deps';
import { shardOf } from '../store/shard';

export const QUEUE_PER_SHARD = 50;
export const ACTIVE_PER_SHARD = 50;

/** null for a job that is not waiting in the queue (running, ended, or held for its dependencies). */
export async function queueView(d: Deps, job: Job): Promise<QueuePosition | null> {
  if (job.status !== 'QUEUED' || job.held) return null;
  const [queued, active] = await Promise.all([d.jobs.queued(QUEUE_PER_SHARD), d.jobs.overdue(Number.MAX_SAFE_INTEGER, ACTIVE_PER_SHARD)]);
  const view = queuePosition(job, queued, active, d.now());
  // a head read that did not reach this job (a deeper queue): the counts would only be a lower bound
  const perShard = new Map<number, number>();
  for (const j of queued) perShard.set(shardOf(j.id), (perShard.get(shardOf(j.id)) ?? 0) + 1);
  const reached = queued.some((j) => j.id === job.id) || [...perShard.values()].every((n) => n < QUEUE_PER_SHARD);
  return reached ? view : { position: null, ahead: null, estimatedStartAt: null };
}
