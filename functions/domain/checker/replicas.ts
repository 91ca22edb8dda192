// Replicated verification: a job run on N distinct nodes is judged by comparing what each node reported
// (exit code and a digest of its stdout). Pure: the use case (functions/usecases/verification.ts) hands
// in the replicas as they ended and writes back the verdict, once.
//
// Votes are counted per node, and a majority that outvotes a node must also be a majority of providers:
// two nodes of one provider are not two independent witnesses (they can still agree). An outvoted node
// is only named and scored, never quarantined or slashed: the consumer's code decides what each replica
// prints, so a disagreement is no evidence against a node (functions/usecases/verification.ts).
import { FINAL_JOB_STATUSES, type Job } from '../model';

// `tiebreak`: the replicas disagreed without a strict majority and one more replica (the tie-breaker)
// runs; the verdict is decided again when it ends. Shown to consumers as `pending`.
export const VERIFICATION_STATUSES = ['pending', 'tiebreak', 'agreed', 'disagreed', 'inconclusive'] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

/** What an agent reported at the end of an attempt of a replica (recorded before the attempt ends). */
export interface ReplicaResult {
  attemptId: string;
  nodeId: string;
  providerId?: string;
  exitCode: number | null;
  outputDigest?: string;
}

/** One replica: its job as it stands and the result reported for its last attempt, if any. */
export interface Replica {
  job: Pick<Job, 'id' | 'status' | 'attempts'>;
  result?: ReplicaResult;
}

export interface ReplicaVerdict {
  status: VerificationStatus;
  /** replicas whose result counted, in the group's order */
  counted: { jobId: string; nodeId: string; exitCode: number; outputDigest: string }[];
  /** nodes outvoted by a strict majority of nodes and of providers: named in the verdict, scored, never quarantined */
  minority: string[];
  /** nodes that agreed with the outcome */
  agreeing: string[];
  /** nodes in a disagreement no strict majority settled, or that gave two answers: recorded */
  unsettled: string[];
  /** the counted nodes gave different results (whatever the outcome): the group's job failed verification */
  mismatch: boolean;
  /** why, in a line */
  detail: string;
}

const resultKey = (r: { exitCode: number; outputDigest: string }) => `${r.exitCode}|${r.outputDigest}`;

/**
 * The result a replica contributes: only from its last attempt, only if that attempt ran to an exit code
 * (SUCCEEDED or FAILED on its own) and the agent sent a digest. A cancelled, timed-out or lost replica,
 * or one whose result belongs to an earlier attempt, has nothing to compare.
 */
export function countedResult(r: Replica): ReplicaVerdict['counted'][number] | undefined {
  const last = r.job.attempts.at(-1);
  const res = r.result;
  if (!last || !res || res.attemptId !== last.id || res.nodeId !== last.nodeId) return undefined;
  if (last.status !== 'SUCCEEDED' && last.status !== 'FAILED') return undefined;
  if (res.exitCode === null || res.outputDigest === undefined) return undefined;
  return { jobId: r.job.id, nodeId: res.nodeId, exitCode: res.exitCode, outputDigest: res.outputDigest };
}

export function judgeReplicas(replicas: readonly Replica[]): ReplicaVerdict {
  const empty = { counted: [], minority: [], agreeing: [], unsettled: [], mismatch: false };
  if (replicas.some((r) => !FINAL_JOB_STATUSES.includes(r.job.status))) return { status: 'pending', ...empty, detail: 'replicas still running' };
  const counted = replicas.map(countedResult).filter((c) => c !== undefined);
  const providerOf = new Map(replicas.flatMap((r) => (r.result ? [[r.result.nodeId, r.result.providerId ?? r.result.nodeId] as const] : [])));
  // one vote per node: two replicas placed on one node (a placement race) count once; a node that gave
  // two different answers to the same job votes for nothing
  const byNode = new Map<string, Set<string>>();
  for (const c of counted) byNode.set(c.nodeId, (byNode.get(c.nodeId) ?? new Set()).add(resultKey(c)));
  const inconsistent = [...byNode].filter(([, keys]) => keys.size > 1).map(([n]) => n);
  const votes = [...byNode].filter(([, keys]) => keys.size === 1).map(([node, keys]) => ({ node, key: [...keys][0] }));
  if (votes.length < 2) {
    return { status: 'inconclusive', ...empty, counted, unsettled: inconsistent, detail: `${votes.length} comparable result(s) of ${replicas.length} replicas` };
  }
  const groups = new Map<string, string[]>();
  for (const v of votes) groups.set(v.key, [...(groups.get(v.key) ?? []), v.node]);
  const ranked = [...groups.values()].sort((a, b) => b.length - a.length);
  const top = ranked[0];
  if (ranked.length === 1) {
    return { status: 'agreed', counted, minority: [], agreeing: top, unsettled: inconsistent, mismatch: false, detail: `${top.length} of ${votes.length} nodes agree` };
  }
  const rest = ranked.slice(1).flat();
  const providers = (nodes: string[]) => new Set(nodes.map((n) => providerOf.get(n) ?? n)).size;
  const strict = top.length * 2 > votes.length && providers(top) > providers(rest);
  if (strict) {
    return { status: 'disagreed', counted, minority: rest, agreeing: top, unsettled: inconsistent, mismatch: true, detail: `${top.length} of ${votes.length} nodes (${providers(top)} providers) agree; ${rest.length} differ` };
  }
  return {
    status: 'inconclusive',
    counted,
    minority: [],
    agreeing: [],
    unsettled: [...votes.map((v) => v.node), ...inconsistent],
    mismatch: true,
    detail: `no strict majority of nodes and providers: ${ranked.map((g) => g.length).join(' vs ')}`,
  };
}

/**
 * The verdict of a decision round. Round 0 judges the replicas the consumer asked for; when their
 * results differ and no strict majority settles it, the verdict is `tiebreak`: one more replica (the
 * tie-breaker) runs on a node of none of them, and round 1 judges them all. There is one tie-breaker at
 * most: round 1 is final (`inconclusive` if still unsettled). A group with a cancelled replica gets no
 * tie-breaker (its consumer stopped it; nobody runs work it did not ask for).
 */
export function judgeRound(replicas: readonly Replica[], round: 0 | 1): ReplicaVerdict {
  const v = judgeReplicas(replicas);
  if (round === 0 && v.status === 'inconclusive' && v.mismatch && !replicas.some((r) => r.job.status === 'CANCELLED')) {
    return { ...v, status: 'tiebreak', detail: `${v.detail}; a tie-breaker replica runs` };
  }
  return v;
}
