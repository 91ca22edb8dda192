// Where a waiting job stands (GET /v1/jobs/{id}: `queue`; docs/scheduling.md, Queue position). Pure: the
// use case reads a bounded head of the queue and the running jobs that end first; this orders them the
// way the sweep takes them (fairOrder) and counts. Only counts and one time leave here: never which jobs,
// or whose, are ahead.
import type { Job } from '../model';
import { fairOrder } from './fair-share';

export interface QueuePosition {
  /** 1-based, among the waiting jobs that want the same kind of capacity (GPU model set and GPUs per node) */
  position: number | null;
  /** waiting jobs of any kind the sweep takes before this one */
  ahead: number | null;
  /** epoch ms by which enough GPUs of the kind free up at the latest, from running jobs' max durations; null when they cannot */
  estimatedStartAt: number | null;
}

type Queued = Pick<Job, 'id' | 'accountId' | 'priority' | 'createdAt' | 'resources'>;
type Running = Pick<Job, 'resources' | 'maxDurationSeconds' | 'attempts' | 'liveAttemptId' | 'status' | 'startedAt' | 'service'>;

const models = (j: Pick<Job, 'resources'>) => [...(j.resources.gpuModels ?? [])].sort().join('|') || '*';
/** the kind of capacity a job waits for: two jobs of one kind can take each other's place */
export const capacityKind = (j: Pick<Job, 'resources'>) => `${models(j)}:${j.resources.gpus}`;
const gpusOf = (j: Pick<Job, 'resources'>) => j.resources.gpus * (j.resources.nodes ?? 1);

/** When a running job ends at the latest: its live attempt's start (or assignment) plus its max duration. */
function latestEnd(j: Running): number | undefined {
  // a service replica renews its period while it is wanted: it frees nothing on a schedule
  if (j.service) return undefined;
  const a = j.attempts.find((x) => x.id === j.liveAttemptId);
  const from = a?.startedAt ?? a?.assignedAt;
  return from === undefined ? undefined : from + j.maxDurationSeconds * 1000;
}

/**
 * `queued`: the head of the queue as read (may or may not hold `job`); `running`: ASSIGNED/RUNNING jobs
 * as read. The estimate assumes the jobs ahead of this one of its kind start first and that GPUs freed by
 * running jobs that wanted the same models can take it — an upper bound, like Slurm's `squeue --start`
 * from time limits: a job that ends early starts this one sooner.
 */
export function queuePosition(job: Queued, queued: readonly Queued[], running: readonly Running[], now: number): QueuePosition {
  const order = fairOrder([...queued.filter((j) => j.id !== job.id), job]);
  const at = order.findIndex((j) => j.id === job.id);
  const kind = capacityKind(job);
  const sameAhead = order.slice(0, at).filter((j) => capacityKind(j) === kind);
  const need = sameAhead.reduce((n, j) => n + gpusOf(j), 0) + gpusOf(job);
  const ends = running
    .filter((r) => (r.status === 'ASSIGNED' || r.status === 'RUNNING') && models(r) === models(job))
    .map((r) => ({ at: latestEnd(r), gpus: gpusOf(r) }))
    .filter((e): e is { at: number; gpus: number } => e.at !== undefined)
    .sort((a, b) => a.at - b.at);
  let freed = 0;
  let estimatedStartAt: number | null = null;
  for (const e of ends) {
    freed += e.gpus;
    if (freed >= need) {
      estimatedStartAt = Math.max(now, e.at);
      break;
    }
  }
  return { position: sameAhead.length + 1, ahead: at, estimatedStartAt };
}
