// Replicated verification: record what each replica's agent reported, decide the verdict once every
// replica has ended, act on it, and show it. The verdict is one conditional put (VerificationStore.decide):
// siblings that finish at the same moment, or a finish racing a consumer's GET, all compute the same
// verdict and exactly one writes it — and only that caller scores.
//
// A verdict is never evidence against a node: the consumer's code decides what each replica prints
// (job ids, host names, clocks, random numbers), so it can always make replicas differ, and could aim
// the difference at a competitor's node. Consumer replicas therefore report, score and nudge reputation;
// quarantine and slashing need a check whose right answer the pool knows (signed probes, spec lies,
// canaries: checker.ts, checker-canary.ts). docs/checkers.md, "Replicated verification".
import type { FinishRequest } from '../domain/agent-protocol';
import { judgeRound, type ReplicaResult } from '../domain/checker/replicas';
import { ignoreDomainError } from '../domain/errors';
import { failVerification } from '../domain/job/verification-transition';
import type { Attempt, Job } from '../domain/model';
import { isConditionFailure } from '../store/conditions';
import { SCORE_RETENTION_S } from '../store/scores-store';
import type { StoredVerdict } from '../store/verification-store';
import { observeNode } from './checker-reputation';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { tryPlace } from './placement';
import { groupOf, tiebreakerId, tiebreakerJob } from './replicas';
import { logger } from '../observability/logger';

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
 * The group's verdict: the stored one, or — when every replica of the round has ended — decided now.
 * Undefined while a replica of round 0 is still live (or missing: a submit cut short between its creates
 * never decides); a `tiebreak` verdict while the tie-breaker runs.
 *
 * Round 0 judges the replicas asked for. If they differ without a strict majority, the caller whose
 * conditional put wins records `tiebreak` and creates the one tie-breaker; round 1 judges them all when
 * it ends and is written once more, conditionally, over the `tiebreak` (VerificationStore.decide). The
 * first round that sees a mismatch fails the group's job (VERIFICATION_MISMATCH).
 */
export async function verifyReplicas(d: Deps, job: Pick<Job, 'replicaGroup' | 'verification'>): Promise<StoredVerdict | undefined> {
  const g = groupOf(job);
  if (!g) return undefined;
  const known = await d.verifications.verdict(g.group);
  if (known && known.status !== 'tiebreak') return known;
  const round = known ? 1 : 0;
  const ids = known ? [...g.ids, tiebreakerId(g.group, g.ids.length)] : g.ids;
  // a decider that stopped between the `tiebreak` put and the tie-breaker's create is repaired here
  if (known && !(await d.jobs.get(ids.at(-1)!))) await startTiebreaker(d, g.group);
  // jobs before results: a result is stored before its attempt ends, so every replica seen final here
  // has its result in the read that follows
  const jobs = await Promise.all(ids.map((id) => d.jobs.get(id)));
  if (jobs.some((j) => !j)) return known;
  const { results } = await d.verifications.read(g.group);
  const v = judgeRound(jobs.map((j, i) => ({ job: j!, result: results.get(i) })), round);
  if (v.status === 'pending') return known;
  const stored: StoredVerdict = { ...v, status: v.status, round, decidedAt: d.now(), ...(v.status === 'tiebreak' || known ? { tiebreaker: tiebreakerId(g.group, g.ids.length) } : {}) };
  if (!(await d.verifications.decide(g.group, stored))) return d.verifications.verdict(g.group);
  // round 0 is where a mismatch is first seen (round 1 runs only after one)
  if (round === 0 && v.mismatch) await failGroupJob(d, g.group);
  if (v.status === 'tiebreak') await startTiebreaker(d, g.group);
  else await actOn(d, g.group, stored);
  return stored;
}

// only the one caller that wrote the verdict fails the job, and an ended job has few other writers: five
// tries (the first and four re-reads) are plenty
const FAIL_GROUP_RETRIES = 4;

/** The submitted job ends FAILED / VERIFICATION_MISMATCH (from SUCCEEDED only; a version race is read again). */
async function failGroupJob(d: Deps, group: string): Promise<void> {
  const job = await d.jobs.get(group);
  if (!job || job.status !== 'SUCCEEDED') return;
  // a job that left SUCCEEDED meanwhile (failVerification refuses it), or is still moving after the
  // retries, is left as it is: nothing to fail, as before
  await applyTransition(d, job, (j) => failVerification(j, d.now()), { retries: FAIL_GROUP_RETRIES }).catch(ignoreDomainError);
}

/** Creates the group's one tie-breaker (a conditional create: only one can exist) and places it if a node is free. */
async function startTiebreaker(d: Deps, group: string): Promise<void> {
  const groupJob = await d.jobs.get(group);
  if (!groupJob) return;
  const tb = tiebreakerJob(groupJob, d.now());
  try {
    await d.jobs.create(tb);
  } catch (e) {
    if (isConditionFailure(e)) return; // created already
    throw e;
  }
  logger.info('replicated verification: tie-breaker queued', { group, jobId: tb.id });
  await tryPlace(d, tb);
}

/**
 * The consequences, run once by the caller that wrote the verdict: a score per node and a reputation
 * observation. The outvoted node (the minority) loses as little as an unsettled one (replicaUnsettled):
 * it may simply have run code that prints something else on it. Nobody is quarantined or slashed and
 * nobody is paid back: the consumer paid for each run it asked for, and a disagreement it can cause at
 * will must not be a way to get compute refunded.
 */
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
    await score(nodeId, false, `replicated verification: job ${jobOn(nodeId)} output differs from the majority (${v.detail}; group ${group})`);
    await observeNode(d, nodeId, 'replicaUnsettled');
  }
  logger.info('replicated verification decided', { group, status: v.status, minority: v.minority, unsettled: v.unsettled });
}

/** `verification` in a replica's job answer; decides the verdict if it is due and nobody has yet. */
export async function verificationView(d: Deps, job: Job) {
  const g = groupOf(job);
  if (!g) return undefined;
  const verdict = await verifyReplicas(d, job);
  // the tie-breaker, once there is one, is listed after the replicas asked for
  const ids = verdict?.tiebreaker ? [...g.ids, verdict.tiebreaker] : g.ids;
  const jobs = await Promise.all(ids.map((id) => d.jobs.get(id)));
  // the decider fails the job just after its verdict put: a reader in between (or after a decider that
  // stopped there) does it too (idempotent: only from SUCCEEDED, under the job's version)
  if (verdict?.mismatch && jobs[0]?.status === 'SUCCEEDED') {
    await failGroupJob(d, g.group);
    jobs[0] = await d.jobs.get(g.group);
  }
  const { results } = await d.verifications.read(g.group);
  const decided = verdict && verdict.status !== 'tiebreak' ? verdict : undefined;
  return {
    replicas: g.ids.length,
    // while the tie-breaker runs the verdict is still to come
    status: decided?.status ?? 'pending',
    // every replica is a job held, metered and settled on its own: the consumer pays each run
    billing: 'per-replica' as const,
    ...(verdict?.tiebreaker ? { tiebreaker: verdict.tiebreaker } : {}),
    siblings: ids.map((id, i) => {
      const j = jobs[i];
      const r = results.get(i);
      const current = r && j?.attempts.at(-1)?.id === r.attemptId;
      return { jobId: id, status: j?.status ?? null, nodeId: j?.nodeId ?? null, exitCode: current ? r.exitCode : null, outputDigest: current ? (r.outputDigest ?? null) : null };
    }),
    ...(decided?.status === 'disagreed' ? { minority: decided.minority } : {}),
    ...(verdict ? { detail: verdict.detail } : {}),
    ...(decided ? { decidedAt: decided.decidedAt } : {}),
  };
}
