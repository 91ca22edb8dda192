// The shape of a replicated job (verification: {replicas: N}): the job the consumer submitted is replica 0
// and names the group (`replicaGroup` = its own id); N−1 siblings `<group>-r1` … `<group>-r<N-1>` carry
// the same spec. Each is an ordinary job to the state machine, placement and the ledger (so each replica
// holds and pays like a job: the consumer pays N runs). Deterministic sibling ids let any replica find
// the others with plain reads, without a group index. Kept apart from verification.ts (the verdict), which
// pulls in the checker and would make placement import it.
import type { Job } from '../domain/model';
import type { ReplicaAvoid, ServiceSpread } from '../domain/matcher/filters';
import type { Deps } from './deps';

/** Every job id of a group, replica 0 first. */
export const replicaIds = (group: string, replicas: number): string[] => [group, ...Array.from({ length: replicas - 1 }, (_, i) => `${group}-r${i + 1}`)];

/** The jobs a submit creates: the job itself, and for a replicated job its siblings (without the webhook, which the group's job alone carries). */
export function replicaJobs(job: Job): Job[] {
  const n = job.verification?.replicas;
  if (!n || n < 2) return [job];
  const { webhook: _w, ...spec } = job;
  return replicaIds(job.id, n).map((id, k) => (k === 0 ? { ...job, replicaGroup: job.id, replicaIndex: 0 } : { ...spec, id, replicaGroup: job.id, replicaIndex: k }));
}

/** re-exported: the dispatch message (domain/job/dispatch.ts) names a replica by its group's id */
export { agentJobId } from '../domain/job/dispatch';

/**
 * The job an agent means by (`jobId`, `attemptId`): the job itself when it holds that attempt, else — for a
 * replica group's id — the sibling or tie-breaker that does (at most 6 reads). The caller still checks that
 * the attempt is the calling node's. Undefined or the group's job when no replica holds the attempt.
 */
export async function jobOfAttempt(d: Deps, jobId: string, attemptId: string): Promise<Job | undefined> {
  const job = await d.jobs.get(jobId);
  const n = job?.verification?.replicas;
  if (!job || !n || job.replicaGroup !== job.id || job.attempts.some((a) => a.id === attemptId)) return job;
  const others = await Promise.all([...replicaIds(job.id, n).slice(1), tiebreakerId(job.id, n)].map((id) => d.jobs.get(id)));
  return others.find((j) => j?.attempts.some((a) => a.id === attemptId)) ?? job;
}

/** The id of the group's one tie-breaker (docs/checkers.md): the next index after the replicas asked for. */
export const tiebreakerId = (group: string, replicas: number): string => `${group}-r${replicas}`;

/**
 * The tie-breaker: one more sibling with the group job's spec (no webhook), queued now. Its placement
 * avoids every node and provider of the replicas asked for (replicaAvoid reads them all), so it runs on a
 * node of neither side. Held and charged like any replica.
 */
export function tiebreakerJob(groupJob: Job, now: number): Job {
  const { webhook: _w, reason: _r, pendingReason: _p, nodeId: _n, liveAttemptId: _l, gang: _g, notBefore: _nb, startedAt: _s, finishedAt: _f, exitCode: _e, cancelRequested: _c, ...spec } = groupJob;
  const group = groupJob.replicaGroup ?? groupJob.id;
  const n = groupJob.verification!.replicas;
  return { ...spec, id: tiebreakerId(group, n), replicaGroup: group, replicaIndex: n, status: 'QUEUED', attempts: [], createdAt: now, queuedAt: now, version: 0 };
}

/** The group's member ids, if `job` is a replica. */
export const groupOf = (job: Pick<Job, 'replicaGroup' | 'verification'>) =>
  job.replicaGroup && job.verification ? { group: job.replicaGroup, ids: replicaIds(job.replicaGroup, job.verification.replicas) } : undefined;

/**
 * For placing a replica: the nodes and providers its siblings run or ran on (attempts lost to their
 * node excepted: those produced nothing), read fresh. Two replicas placed at the same instant may still
 * meet on one node; the verdict then counts that node once (domain/checker/replicas.ts).
 */
export async function replicaAvoid(d: Deps, job: Job): Promise<ReplicaAvoid['replicaAvoid']> {
  const g = groupOf(job);
  if (!g) return undefined;
  const siblings = await Promise.all(g.ids.filter((id) => id !== job.id).map((id) => d.jobs.get(id)));
  const used = siblings.flatMap((s) => s?.attempts.filter((a) => a.status !== 'LOST') ?? []);
  return { nodes: [...new Set(used.map((a) => a.nodeId))], providers: [...new Set(used.flatMap((a) => (a.providerId ? [a.providerId] : [])))] };
}

/**
 * For placing a service's replica: the nodes and providers the service's other replicas run on now (not
 * ended, not being stopped), read fresh. A preference (filters.ts serviceNodes, serviceProviders): two
 * replicas placed at the same instant may still meet on one node, as on a pool too small to spread.
 */
export async function serviceSpread(d: Deps, job: Job): Promise<ServiceSpread['serviceSpread']> {
  if (!job.service) return undefined;
  const svc = await d.services.get(job.service.id);
  if (!svc) return undefined;
  const others = await Promise.all(svc.replicaIds.filter((id) => id !== job.id).map((id) => d.jobs.get(id)));
  const live = others.flatMap((j) => (j && !j.cancelRequested && (j.status === 'RUNNING' || j.status === 'ASSIGNED') && j.liveAttemptId ? j.attempts.filter((a) => a.id === j.liveAttemptId) : []));
  return { nodes: [...new Set(live.map((a) => a.nodeId))], providers: [...new Set(live.flatMap((a) => (a.providerId ? [a.providerId] : [])))] };
}
