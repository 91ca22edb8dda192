// Canary jobs: now and then (settings.checker.canaryRate per probed node and run) the checker submits a
// small job with a known answer, pinned to the node, from the system account `system-checker`, through the
// same submitJob path consumers use. A later run judges it once it has ended: a wrong printed answer
// quarantines the node (the job id is the evidence); a right one raises its reputation; no answer at all
// lowers it a little. Pending canaries wait in the scores table under `canary#<shard>`.
import { randomInt } from 'node:crypto';
import { canarySpec, judgeCanaryOutput } from '../domain/checker/canary';
import { FINAL_JOB_STATUSES, type Caller, type Job, type Node } from '../domain/model';
import { SCORE_RETENTION_S } from '../store/scores-store';
import { shardOf } from '../store/shard';
import type { Deps } from './deps';
import { submitJob } from './jobs';
import { observeNode } from './checker-reputation';

export const SYSTEM_CHECKER_ACCOUNT = 'system-checker';
const SYSTEM_CALLER: Caller = { accountId: SYSTEM_CHECKER_ACCOUNT, role: 'consumer', keyId: 'system' };
/** a pending canary whose job has not ended after this long is dropped unjudged */
const CANARY_GIVE_UP_MS = 60 * 60_000;

let accountReady: Promise<void> | undefined;
function ensureSystemAccount(d: Deps): Promise<void> {
  accountReady ??= d.accounts
    .ensure(SYSTEM_CHECKER_ACCOUNT, () => ({ id: SYSTEM_CHECKER_ACCOUNT, name: 'checker canaries', role: 'consumer', createdAt: d.now(), available: 0, held: 0, staked: 0 }))
    .catch((e) => {
      accountReady = undefined;
      throw e;
    });
  return accountReady;
}

/** Sends a canary to `node` with probability canaryRate; true when one was submitted. */
export async function maybeSendCanary(d: Deps, node: Node): Promise<boolean> {
  const { canaryRate, canaryImage } = d.settings.checker;
  if (canaryRate <= 0 || node.freeGpus < 1 || (node.status !== 'ONLINE' && node.status !== 'DEGRADED')) return false;
  if (d.random() >= canaryRate) return false;
  await ensureSystemAccount(d);
  const spec = canarySpec(node.gpuModel, canaryImage, randomInt);
  const job = await submitJob(d, SYSTEM_CALLER, { ...spec.body, pinNodeId: node.id } as typeof spec.body & Pick<Job, 'pinNodeId'>);
  await d.scores.addPendingCanary({ shard: shardOf(node.id), at: d.now(), jobId: job.id, target: node.id, expected: spec.expected });
  return true;
}

/** Judges the ended canaries of nodes in `shard`; returns how many were judged. */
export async function judgeCanaries(d: Deps, shard: number, quarantine: (d: Deps, nodeId: string, evidence: string) => Promise<boolean>): Promise<number> {
  let judged = 0;
  for (const c of await d.scores.pendingCanaries(shard)) {
    const job = await d.jobs.get(c.jobId);
    if (job && !FINAL_JOB_STATUSES.includes(job.status)) {
      if (d.now() - c.at > CANARY_GIVE_UP_MS) await d.scores.removePendingCanary(c);
      continue;
    }
    const ran = job?.attempts.find((a) => a.nodeId === c.target && (a.status === 'SUCCEEDED' || a.status === 'FAILED'));
    if (job && ran) {
      const { lines } = await d.logs.read(job.id, -1, 1000);
      const stdout = lines.filter((l) => l.attempt === ran.n && l.stream === 'stdout').map((l) => l.text);
      const j = judgeCanaryOutput(stdout, c.expected);
      const at = d.now();
      const reason = j.verdict === 'ok' ? '' : j.verdict === 'wrong' ? `canary printed ${j.printed}, expected ${c.expected}` : 'canary printed no answer';
      await d.scores.putScore({ nodeId: c.target, at, kind: 'canary', jobId: job.id, ok: j.verdict === 'ok', reason, expiresAt: Math.floor(at / 1000) + SCORE_RETENTION_S });
      if (j.verdict === 'wrong') await quarantine(d, c.target, `${reason} (job ${job.id})`);
      else await observeNode(d, c.target, j.verdict === 'ok' ? 'canaryOk' : 'canaryInconclusive');
      judged++;
    }
    // a canary that never ran on its node (lost, expired) says nothing about the node's honesty
    await d.scores.removePendingCanary(c);
  }
  return judged;
}
