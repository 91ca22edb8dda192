// Canary jobs: now and then (settings.checker.canaryRate per probed node and run) the checker submits a
// small job with a known answer, pinned to the node, through the same submitJob path consumers use, from
// an account whose id is derived from the control plane's secret key: it looks like any account id and
// no provider can compute it (a well-known id such as `system-checker` would mark canaries wherever an
// account id shows). With canaryMaxDelayMs set (AWS: one checker period) the canary waits a random part
// of it before the sweep places it, so its dispatch does not follow the node's probe by milliseconds.
// A later run judges it once it has ended: a wrong printed answer quarantines the node (the job id is the
// evidence); a right one raises its reputation; no answer at all lowers it a little. Pending canaries wait in the scores table under `canary#<shard>`.
import { createHmac, randomInt } from 'node:crypto';
import { encodeTime } from 'ulid';
import { canarySpec, judgeCanaryOutput } from '../domain/checker/canary';
import { FINAL_JOB_STATUSES, type Caller, type Job, type Node } from '../domain/model';
import { SCORE_RETENTION_S } from '../store/scores-store';
import { shardOf } from '../store/shard';
import type { Deps } from './deps';
import { submitJob } from './jobs';
import { observeNode } from './checker-reputation';
import { controlPlaneKey } from './checker-settings';

/** a pending canary whose job has not ended after this long is dropped unjudged */
const CANARY_GIVE_UP_MS = 60 * 60_000;
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * The canaries' account id: HMAC of the control plane's private key, shaped like the ids d.newId() gives
 * every other account (a lowercase ULID, its time part that of 2024-01-01 plus up to a year).
 */
export function canaryAccountId(privateKeyDer: Buffer): string {
  const mac = createHmac('sha256', privateKeyDer).update('gpupool canary account v1').digest();
  const time = encodeTime(Date.UTC(2024, 0, 1) + (mac.readUInt32BE(0) % (365 * 24 * 3600)) * 1000, 10).toLowerCase();
  return time + Array.from(mac.subarray(4, 20), (b) => CROCKFORD[b % 32]).join('');
}

const ready = new Map<string, Promise<void>>();
async function canaryCaller(d: Deps): Promise<Caller> {
  const key = await controlPlaneKey(d.settings.checker);
  if (!key) throw new Error('checker: no control-plane signing key configured');
  const id = canaryAccountId(key.privateKey.export({ format: 'der', type: 'pkcs8' }));
  if (!ready.has(id)) {
    ready.set(
      id,
      d.accounts.ensure(id, () => ({ id, name: 'checker', role: 'consumer', createdAt: d.now(), available: 0, held: 0, staked: 0 })).catch((e) => {
        ready.delete(id);
        throw e;
      }),
    );
  }
  await ready.get(id);
  return { accountId: id, role: 'consumer', keyId: 'checker' };
}

/** Sends a canary to `node` with probability canaryRate; true when one was submitted. */
export async function maybeSendCanary(d: Deps, node: Node): Promise<boolean> {
  const { canaryRate, canaryImage } = d.settings.checker;
  if (canaryRate <= 0 || node.freeGpus < 1 || (node.status !== 'ONLINE' && node.status !== 'DEGRADED')) return false;
  if (d.random() >= canaryRate) return false;
  const caller = await canaryCaller(d);
  const spec = canarySpec(node.gpuModel, canaryImage, randomInt);
  const maxDelay = d.settings.checker.canaryMaxDelayMs ?? 0;
  // placed by a later sweep, at a random moment of the period, not right after this node's probe
  const notBefore = maxDelay > 0 ? { notBefore: d.now() + randomInt(maxDelay) } : {};
  const job = await submitJob(d, caller, { ...spec.body, pinNodeId: node.id, ...notBefore } as typeof spec.body & Pick<Job, 'pinNodeId' | 'notBefore'>);
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
