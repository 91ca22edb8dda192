// Replicated verification: record what each replica's agent reported, decide the verdict once every
// replica has ended, act on it, and show it. The verdict is one conditional put (VerificationStore.decide):
// siblings that finish at the same moment, or a finish racing a consumer's GET, all compute the same
// verdict and exactly one writes it — and only that caller quarantines, slashes and scores.
import type { FinishRequest } from '../domain/agent-protocol';
import { judgeReplicas, type ReplicaResult } from '../domain/checker/replicas';
import type { Attempt, Job } from '../domain/model';
import { SCORE_RETENTION_S } from '../store/scores-store';
import type { StoredVerdict } from '../store/verification-store';
import { quarantineNode } from './checker';
import { observeNode } from './checker-reputation';
import type { Deps } from './deps';
import { groupOf } from './replicas';

/** Before the attempt ends: what its agent reported. Written first so a replica that is final always has its result stored. */
export async function recordReplicaResult(d: Deps, job: Job, attempt: Attempt, body: FinishRequest): Promise<void> {
  if (!job.replicaGroup || job.replicaIndex === undefined) return;
  const r: ReplicaResult = {
    attemptId: attempt.id,
    nodeId: attempt.nodeId,
    ...(attempt.providerId ? { providerId: attempt.providerId } : {}),
    exitCode: body.exitCode,
    ...(body.outputDigest ? { outputDigest: body.outputDigest } : {}),
  };
  await d.verifications.putResult(job.replicaGroup, job.replicaIndex, r);
}

/**
 * The group's verdict: the stored one, or — when every replica has ended — decided now. Undefined while
 * a replica is still live (or missing: a submit cut short between its creates never decides).
 */
export async function verifyReplicas(d: Deps, job: Pick<Job, 'replicaGroup' | 'verification'>): Promise<StoredVerdict | undefined> {
  const g = groupOf(job);
  if (!g) return undefined;
  const known = await d.verifications.verdict(g.group);
  if (known) return known;
  // jobs before results: a result is stored before its attempt ends, so every replica seen final here
  // has its result in the read that follows
  const jobs = await Promise.all(g.ids.map((id) => d.jobs.get(id)));
  if (jobs.some((j) => !j)) return undefined;
  const { results } = await d.verifications.read(g.group);
  const v = judgeReplicas(jobs.map((j, i) => ({ job: j!, result: results.get(i) })));
  if (v.status === 'pending') return undefined;
  const stored: StoredVerdict = { ...v, status: v.status, decidedAt: d.now() };
  if (!(await d.verifications.decide(g.group, stored))) return d.verifications.verdict(g.group);
  await actOn(d, g.group, stored);
  return stored;
}

/** The consequences, run once by the caller that wrote the verdict. */
async function actOn(d: Deps, group: string, v: StoredVerdict): Promise<void> {
  const at = d.now();
  const score = (nodeId: string, ok: boolean, reason: string) =>
    d.scores.putScore({ nodeId, at, kind: 'verification', jobId: group, ok, reason, expiresAt: Math.floor(at / 1000) + SCORE_RETENTION_S });
  const jobOn = (nodeId: string) => v.counted.find((c) => c.nodeId === nodeId)?.jobId ?? group;
  for (const nodeId of v.agreeing) {
    await score(nodeId, true, '');
    await observeNode(d, nodeId, 'replicaAgreed');
  }
  for (const nodeId of v.unsettled) {
    await score(nodeId, false, `replicated verification inconclusive: ${v.detail}`);
    await observeNode(d, nodeId, 'replicaUnsettled');
  }
  for (const nodeId of v.minority) {
    const evidence = `replicated verification: job ${jobOn(nodeId)} output differs from the majority (${v.detail}; group ${group})`;
    await score(nodeId, false, evidence);
    // the consumer is refunded from the slash: it paid this node for a wrong result
    await quarantineNode(d, nodeId, evidence);
  }
  console.info(JSON.stringify({ level: 'info', msg: 'replicated verification decided', group, status: v.status, minority: v.minority, unsettled: v.unsettled }));
}

/** `verification` in a replica's job answer; decides the verdict if it is due and nobody has yet. */
export async function verificationView(d: Deps, job: Job) {
  const g = groupOf(job);
  if (!g) return undefined;
  const verdict = await verifyReplicas(d, job);
  const jobs = await Promise.all(g.ids.map((id) => d.jobs.get(id)));
  const { results } = await d.verifications.read(g.group);
  return {
    replicas: g.ids.length,
    status: verdict?.status ?? 'pending',
    // every replica is a job held, metered and settled on its own: the consumer pays each run
    billing: 'per-replica' as const,
    siblings: g.ids.map((id, i) => {
      const j = jobs[i];
      const r = results.get(i);
      const current = r && j?.attempts.at(-1)?.id === r.attemptId;
      return { jobId: id, status: j?.status ?? null, nodeId: j?.nodeId ?? null, exitCode: current ? r.exitCode : null, outputDigest: current ? (r.outputDigest ?? null) : null };
    }),
    ...(verdict?.status === 'disagreed' ? { minority: verdict.minority } : {}),
    ...(verdict ? { detail: verdict.detail, decidedAt: verdict.decidedAt } : {}),
  };
}
