// Reputation, probe counters and status decisions, and the per-epoch reward. Pure: the checker feeds it
// what it observed and writes back what it returns. docs/checkers.md explains every constant.
//
// Reputation r ∈ [0, 1] is an exponentially weighted moving average of observations x ∈ {0, 1}:
//     r ← r + α·(x − r)
// with a weight α per kind of observation (ALPHA). Registration starts at INITIAL_REPUTATION; signed proof
// of dishonesty (spec mismatch, wrong challenge, wrong canary answer) sets r to 0 at once.
import { MICRO, type Node } from '../model';

export const INITIAL_REPUTATION = 0.5;

export type Observation = 'probeOk' | 'probeFailed' | 'canaryOk' | 'canaryInconclusive' | 'jobLost' | 'replicaAgreed' | 'replicaUnsettled';

/** α per observation and the value x it pulls toward. */
export const ALPHA: Readonly<Record<Observation, { alpha: number; x: 0 | 1 }>> = {
  // one probe a minute: a half-life of ln 2 / -ln(1 - 0.02) ≈ 34 probes, about half an hour
  probeOk: { alpha: 0.02, x: 1 },
  probeFailed: { alpha: 0.02, x: 0 },
  // canaries are rare (hours apart) and check real work: each counts as much as ~5 probes
  canaryOk: { alpha: 0.1, x: 1 },
  // the canary never produced an answer on a node that took it (failed, timed out, no output line)
  canaryInconclusive: { alpha: 0.05, x: 0 },
  // an attempt the node lost (missed heartbeats): the consumer's work had to move
  jobLost: { alpha: 0.05, x: 0 },
  // replicated verification: agreeing with the other replicas is real work checked, like a canary
  replicaAgreed: { alpha: 0.1, x: 1 },
  // a disagreement no strict majority settled, or a node outvoted by one: the consumer's code may print
  // different things on different nodes, so this is never proof; the node loses a little
  replicaUnsettled: { alpha: 0.05, x: 0 },
};

const round4 = (r: number) => Math.round(r * 10_000) / 10_000;

export function observe(reputation: number, o: Observation): number {
  const { alpha, x } = ALPHA[o];
  const r = Number.isFinite(reputation) ? Math.min(1, Math.max(0, reputation)) : INITIAL_REPUTATION;
  return round4(r + alpha * (x - r));
}

/** failed probes in a row that turn an ONLINE node DEGRADED */
export const DEGRADE_AFTER_FAILURES = 2;
/** good probes in a row that bring a DEGRADED node back ONLINE */
export const RECOVER_AFTER_SUCCESSES = 3;

export interface ProbeCounters {
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** epoch ms of the last probe */
  lastAt: number;
  /** the epoch the counts below belong to */
  epoch: number;
  epochOk: number;
  epochFailed: number;
  /** round trip of good probes, ms, smoothed (EWMA): the indexer's latency scorer reads it */
  rttMs?: number;
}

/** Weight of the newest round trip in the smoothed one: a few probes move it, one outlier does not. */
export const RTT_ALPHA = 0.3;

export interface EpochCounts {
  epoch: number;
  ok: number;
  failed: number;
}

export interface ProbeOutcome {
  probe: ProbeCounters;
  reputation: number;
  /** the status change the probe calls for */
  event?: 'degrade' | 'recover' | 'quarantine';
  /** the previous epoch, when this probe is the first of a new one: settle it */
  closed?: EpochCounts;
}

export const epochOf = (at: number, epochMs: number) => Math.floor(at / epochMs);

/** Counters, reputation and status change after one probe judged `ok` (or not, or proof). */
export function afterProbe(
  node: Pick<Node, 'status' | 'reputation'> & { probe?: Partial<ProbeCounters> },
  verdict: { ok: boolean; proof: boolean; rttMs?: number },
  at: number,
  epochMs: number,
): ProbeOutcome {
  const prev = node.probe ?? {};
  const epoch = epochOf(at, epochMs);
  const sameEpoch = prev.epoch === epoch;
  const closed = prev.epoch !== undefined && prev.epoch < epoch ? { epoch: prev.epoch, ok: prev.epochOk ?? 0, failed: prev.epochFailed ?? 0 } : undefined;
  const probe: ProbeCounters = {
    consecutiveFailures: verdict.ok ? 0 : (prev.consecutiveFailures ?? 0) + 1,
    consecutiveSuccesses: verdict.ok ? (prev.consecutiveSuccesses ?? 0) + 1 : 0,
    lastAt: at,
    epoch,
    epochOk: (sameEpoch ? (prev.epochOk ?? 0) : 0) + (verdict.ok ? 1 : 0),
    epochFailed: (sameEpoch ? (prev.epochFailed ?? 0) : 0) + (verdict.ok ? 0 : 1),
    ...smoothedRtt(prev.rttMs, verdict.ok ? verdict.rttMs : undefined),
  };
  if (verdict.proof) return { probe, reputation: 0, event: node.status === 'QUARANTINED' ? undefined : 'quarantine', closed };
  const reputation = observe(node.reputation, verdict.ok ? 'probeOk' : 'probeFailed');
  let event: ProbeOutcome['event'];
  if (!verdict.ok && node.status === 'ONLINE' && probe.consecutiveFailures >= DEGRADE_AFTER_FAILURES) event = 'degrade';
  if (verdict.ok && node.status === 'DEGRADED' && probe.consecutiveSuccesses >= RECOVER_AFTER_SUCCESSES) event = 'recover';
  return { probe, reputation, event, closed };
}

function smoothedRtt(prev: number | undefined, rtt: number | undefined): { rttMs?: number } {
  if (rtt === undefined || !Number.isFinite(rtt)) return prev === undefined ? {} : { rttMs: prev };
  return { rttMs: Math.round(prev === undefined ? rtt : prev + RTT_ALPHA * (rtt - prev)) };
}

/** Reward for healthy uptime, per GPU-hour vouched for by a good probe, in micro-credits (before reputation). */
export const REWARD_PER_HEALTHY_GPU_HOUR = MICRO / 100;
/** Penalty per GPU-hour of failed probes: twice the reward, so flapping costs more than it earns. */
export const PENALTY_PER_FAILED_GPU_HOUR = MICRO / 50;

export interface EpochSettlement {
  epoch: number;
  okProbes: number;
  failedProbes: number;
  /** GPU-seconds vouched for by good probes (each covers one checker period, capped at the epoch) */
  healthyGpuSeconds: number;
  /** micro-credits */
  reward: number;
  penalty: number;
}

/**
 * One epoch of one node: each good probe vouches for one checker period of all its GPUs, each failed one
 * costs the same span at the penalty rate. The reward is scaled by reputation, so a node with a history
 * of failures earns less for the same uptime. Integers (micro-credits), rounded down.
 */
export function settleEpoch(c: EpochCounts, p: { periodMs: number; epochMs: number; totalGpus: number; reputation: number }): EpochSettlement {
  const healthyMs = Math.min(c.ok * p.periodMs, p.epochMs);
  const failedMs = Math.min(c.failed * p.periodMs, p.epochMs);
  const healthyGpuSeconds = Math.floor((healthyMs / 1000) * p.totalGpus);
  const gpuHours = (ms: number) => (ms / 3_600_000) * p.totalGpus;
  return {
    epoch: c.epoch,
    okProbes: c.ok,
    failedProbes: c.failed,
    healthyGpuSeconds,
    reward: Math.floor(gpuHours(healthyMs) * REWARD_PER_HEALTHY_GPU_HOUR * Math.min(1, Math.max(0, p.reputation))),
    penalty: Math.floor(gpuHours(failedMs) * PENALTY_PER_FAILED_GPU_HOUR),
  };
}

/** The ledger's idempotency key for a node's epoch reward (and penalty). */
export const rewardKey = (epoch: number, nodeId: string) => `epoch/${epoch}/node/${nodeId}/reward`;
