// The checker run: probes every watched node of the given shards with bounded concurrency, records a
// score per probe, moves reputation and probe counters (one conditional write on the node), degrades,
// recovers or quarantines, settles finished epochs, and sends and judges canary jobs. On AWS each
// scheduled invocation takes one shard; the local stack runs all shards in one call. Every write is
// conditional, so two runs over the same node (a late one and the next) cannot double anything.
import { randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { conflict, ignoreDomainError } from '../domain/errors';
import { failedProbe, judgeAnswer, type ProbeVerdict } from '../domain/checker/verify';
import { SignedProbeAnswerSchema, NONCE_BYTES, type Probe } from '../domain/checker/probe';
import { afterProbe, settleEpoch, rewardKey, type EpochCounts } from '../domain/checker/reputation';
import { postReward } from './ledger';
import { parsePublicKey, signPayload, verifyPayload, type KeyPair } from '../domain/checker/signing';
import type { Node } from '../domain/model';
import { isWatched } from '../domain/node/status';
import type { NodeItem } from '../store/nodes-store';
import { SCORE_RETENTION_S } from '../store/scores-store';
import { allShards } from '../store/shard';
import { judgeCanaries, maybeSendCanary } from './checker-canary';
import { controlPlaneKey } from './checker-settings';
import { httpProber, probeFailureReason, type Prober, type ProbeReply } from './checker-probe-client';
import type { Deps } from './deps';
import { isLostRace, LostRaceError, retrying } from './retry';
import { withStatus } from './nodes';
import { updateNode } from './node-writes';
import { finishRemoval, startRemoval } from './node-removal';
import { acceptEvidence, holdMs } from '../domain/node/removal';
import { logger } from '../observability/logger';

export interface CheckerRunResult {
  shards: number[];
  nodes: number;
  probed: number;
  ok: number;
  failed: number;
  /** watched nodes without a probe URL or public key: not probed */
  skipped: number;
  /** left for the next run: this one reached maxRunMs */
  deferred: number;
  degraded: number;
  recovered: number;
  quarantined: number;
  canariesSent: number;
  canariesJudged: number;
  ms: number;
}

interface RunCtx {
  d: Deps;
  key: KeyPair;
  prober: Prober;
  result: CheckerRunResult;
  deadline: number;
}

export async function runChecker(d: Deps, o: { shards?: number[]; prober?: Prober } = {}): Promise<CheckerRunResult> {
  const started = Date.now();
  const shards = o.shards ?? allShards();
  const result: CheckerRunResult = { shards, nodes: 0, probed: 0, ok: 0, failed: 0, skipped: 0, deferred: 0, degraded: 0, recovered: 0, quarantined: 0, canariesSent: 0, canariesJudged: 0, ms: 0 };
  const key = await controlPlaneKey(d.settings.checker);
  if (!key) throw new Error('checker: no control-plane signing key configured (CHECKER_SIGNING_SECRET_ARN)');
  const ctx: RunCtx = {
    d,
    key,
    prober: o.prober ?? httpProber({ allow: d.settings.checker.allowAddresses }),
    result,
    deadline: started + d.settings.checker.maxRunMs,
  };
  const perShard = await Promise.all(shards.map((s) => d.scores.watchedNodes(s)));
  for (const s of shards) result.canariesJudged += await judgeCanaries(d, s, quarantineNode);
  // the liveness index also holds nodes the reaper must finish removing (a deregistered node's held
  // stake): only watched nodes are probed
  const nodes = perShard.flat().filter(isWatched);
  result.nodes = nodes.length;
  await mapLimit(nodes, d.settings.checker.concurrency, (n) => checkNode(ctx, n));
  result.ms = Date.now() - started;
  return result;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

async function checkNode(ctx: RunCtx, node: NodeItem): Promise<void> {
  const { d, result } = ctx;
  if (!node.probeUrl || !node.publicKey) {
    result.skipped++;
    return;
  }
  if (Date.now() > ctx.deadline) {
    result.deferred++;
    return;
  }
  try {
    const at = d.now();
    const { verdict, rttMs } = await probeOnce(ctx, node, at);
    result.probed++;
    if (verdict.ok) result.ok++;
    else result.failed++;
    await d.scores.putScore({
      nodeId: node.id,
      at,
      kind: 'probe',
      rttMs,
      ok: verdict.ok,
      specMatch: verdict.specMatch,
      challengeOk: verdict.challengeOk,
      reason: verdict.reason,
      ...(verdict.benchFlag ? { benchFlag: verdict.benchFlag } : {}),
      expiresAt: Math.floor(at / 1000) + SCORE_RETENTION_S,
    });
    const after = await applyVerdict(ctx, node, { ...verdict, rttMs }, at);
    if (verdict.ok && after && (await maybeSendCanary(d, after))) result.canariesSent++;
  } catch (e) {
    // one node's trouble (a store error, a conflict) must not stop the run for the others
    logger.warn('checker: node check failed', { nodeId: node.id, error: e });
  }
}

/** Signs a fresh probe, sends it, and judges the answer. */
export async function probeOnce(ctx: Pick<RunCtx, 'd' | 'key' | 'prober'>, node: Pick<Node, 'id' | 'probeUrl' | 'publicKey' | 'gpus'>, at: number) {
  const probe: Probe = { nodeId: node.id, nonce: randomBytes(NONCE_BYTES).toString('base64url'), issuedAt: at };
  const signed = { probe, signature: signPayload(ctx.key.privateKey, 'probe', probe) };
  const t0 = performance.now();
  let verdict: ProbeVerdict;
  try {
    const reply = await ctx.prober(node.probeUrl!, signed, ctx.d.settings.checker.probeTimeoutMs);
    verdict = judgeReply(node, probe, reply);
  } catch (e) {
    verdict = failedProbe(probeFailureReason(e));
  }
  return { verdict, rttMs: Math.round(performance.now() - t0) };
}

const keys = new Map<string, KeyObject | undefined>();
function nodeKey(text: string): KeyObject | undefined {
  if (!keys.has(text)) {
    if (keys.size > 50_000) keys.clear();
    keys.set(text, parsePublicKey(text));
  }
  return keys.get(text);
}

function judgeReply(node: Pick<Node, 'id' | 'publicKey' | 'gpus'>, probe: Probe, reply: ProbeReply): ProbeVerdict {
  if (reply.status !== 200) {
    const why = (reply.body as { error?: unknown } | undefined)?.error;
    return failedProbe(`probe refused: HTTP ${reply.status}${typeof why === 'string' ? ` ${why.slice(0, 40)}` : ''}`);
  }
  const parsed = SignedProbeAnswerSchema.safeParse(reply.body);
  if (!parsed.success) return failedProbe('malformed answer');
  const pub = node.publicKey ? nodeKey(node.publicKey) : undefined;
  if (!pub) return failedProbe('registered public key unusable');
  if (!verifyPayload(pub, 'answer', parsed.data.answer, parsed.data.signature)) return failedProbe('bad answer signature');
  return judgeAnswer(node.gpus, probe, parsed.data.answer);
}

/**
 * Writes what the probe means for the node: counters and reputation with one conditional update (re-read
 * and recomputed when the node moved since it was listed), or a status change through updateNode. Returns
 * the node as written, or undefined when it is gone or no longer watched.
 */
async function applyVerdict(ctx: RunCtx, listed: NodeItem, verdict: ProbeVerdict & { rttMs?: number }, at: number): Promise<NodeItem | undefined> {
  const { d } = ctx;
  const epochMs = d.settings.checker.epochMs;
  return retrying(
    async (attempt) => {
      const node = attempt === 0 ? listed : await d.nodes.get(listed.id);
      // gone, or out of the watched states since it was listed: left alone
      if (!node || (attempt > 0 && !isWatched(node))) return undefined;
      const outcome = afterProbe(node, verdict, at, epochMs);
      if (outcome.closed) await settle(d, node, outcome.closed);
      if (outcome.event) return changeStatus(ctx, node.id, verdict, at);
      if (await d.scores.recordNodeCheck(node.id, node.version, { reputation: outcome.reputation, probe: outcome.probe })) {
        return { ...node, reputation: outcome.reputation, probe: outcome.probe, version: node.version + 1 };
      }
      throw new LostRaceError(`node ${node.id} changed concurrently`);
    },
    // still moving after that: nothing written this round; the next run probes it again
    { retries: 3, on: isLostRace, exhausted: () => undefined },
  );
}

async function changeStatus(ctx: RunCtx, id: string, verdict: ProbeVerdict, at: number): Promise<NodeItem | undefined> {
  const { d, result } = ctx;
  let event: 'degrade' | 'recover' | 'quarantine' | undefined;
  const node = await updateNode(d, id, (n) => {
    // a node that left the watched states since it was probed is not touched: its version fences the
    // reaper's re-placement of its work (a proof still quarantines it)
    if (!isWatched(n) && !verdict.proof) throw conflict('node no longer watched');
    const o = afterProbe(n, verdict, at, d.settings.checker.epochMs);
    event = o.event;
    const base: Node = { ...n, reputation: o.reputation, probe: o.probe };
    if (!o.event) return base;
    // a proof takes the node out (and slashes it) in the same write; a deregistered node is still slashed
    if (o.event === 'quarantine') return acceptEvidence(base, verdict.reason, at, holdMs(d.settings.ledger));
    return withStatus(base, o.event, o.event === 'degrade' ? `checker: ${o.probe.consecutiveFailures} failed probes (${verdict.reason})` : undefined);
  }).catch(ignoreDomainError);
  if (!node) return undefined;
  if (event === 'degrade' && node.status === 'DEGRADED') result.degraded++;
  if (event === 'recover' && node.status === 'ONLINE') result.recovered++;
  if (event === 'quarantine' && node.removal?.evidenceAt === at) {
    result.quarantined++;
    await afterEvidence(d, node, verdict.reason);
  }
  return node;
}

/**
 * Quarantines a node on signed evidence (a canary's wrong answer; probes go through changeStatus):
 * reputation 0, no more work, its live attempts lost and re-placed, its stake slashed — all one removal
 * (functions/usecases/node-removal.ts) written with the status. A node deregistered since the work the
 * evidence is about is still slashed while its stake is held. False when the evidence changes nothing.
 */
export async function quarantineNode(d: Deps, nodeId: string, evidence: string): Promise<boolean> {
  const at = d.now();
  const node = await startRemoval(d, nodeId, (n) => acceptEvidence(n, evidence, at, holdMs(d.settings.ledger))).catch(ignoreDomainError);
  if (!node || node.removal?.evidenceAt !== at) return false;
  await afterEvidence(d, node, evidence);
  return true;
}

async function afterEvidence(d: Deps, node: NodeItem, evidence: string): Promise<void> {
  logger.warn('checker: node quarantined', { nodeId: node.id, providerId: node.providerId, status: node.status, evidence });
  d.metrics.quarantine();
  await finishRemoval(d, node.id);
}

async function settle(d: Deps, node: Node, closed: EpochCounts): Promise<void> {
  const { periodMs, epochMs } = d.settings.checker;
  const s = settleEpoch(closed, { periodMs, epochMs, totalGpus: node.totalGpus, reputation: node.reputation });
  const key = rewardKey(s.epoch, node.id);
  // paid from the reward pool while it has funds; an unfunded reward stays recorded, unposted
  const posted = await postReward(d, key, node.providerId, node.id, s.reward, s.penalty);
  await d.scores.putReward({
    nodeId: node.id,
    providerId: node.providerId,
    kind: 'epoch',
    at: closed.epoch * epochMs,
    epoch: s.epoch,
    okProbes: s.okProbes,
    failedProbes: s.failedProbes,
    healthyGpuSeconds: s.healthyGpuSeconds,
    reward: s.reward,
    penalty: s.penalty,
    idempotencyKey: key,
    posted,
  });
}
