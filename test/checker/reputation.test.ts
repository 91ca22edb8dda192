// The reputation formula, the probe counters' status decisions and the epoch settlement, table-driven.
import { describe, expect, it } from 'vitest';
import {
  afterProbe,
  ALPHA,
  DEGRADE_AFTER_FAILURES,
  observe,
  PENALTY_PER_FAILED_GPU_HOUR,
  RECOVER_AFTER_SUCCESSES,
  REWARD_PER_HEALTHY_GPU_HOUR,
  rewardKey,
  settleEpoch,
  type Observation,
} from '../../functions/domain/checker/reputation';
import type { NodeStatus } from '../../functions/domain/model';

describe('observe: r ← r + α (x − r)', () => {
  it.each([
    [0.5, 'probeOk', 0.51],
    [0.5, 'probeFailed', 0.49],
    [1, 'probeOk', 1],
    [0, 'probeFailed', 0],
    [0.5, 'canaryOk', 0.55],
    [0.8, 'canaryInconclusive', 0.76],
    [0.8, 'jobLost', 0.76],
    [2, 'probeOk', 1], // clamped first
    [NaN, 'probeOk', 0.51], // a missing reputation starts from 0.5
  ] as [number, Observation, number][])('r=%s, %s → %s', (r, o, next) => expect(observe(r, o)).toBeCloseTo(next, 4));

  it('climbs from 0.5 past 0.8 after about 60 good probes and stays in [0, 1]', () => {
    let r = 0.5;
    const path: number[] = [];
    for (let i = 0; i < 60; i++) path.push((r = observe(r, 'probeOk')));
    expect(r).toBeGreaterThan(0.8);
    expect(path.every((x, i) => x >= 0 && x <= 1 && (i === 0 || x >= path[i - 1]))).toBe(true);
  });

  it('weighs canaries more than probes', () => {
    expect(ALPHA.canaryOk.alpha).toBeGreaterThan(ALPHA.probeOk.alpha);
  });
});

describe('afterProbe', () => {
  const EPOCH = 3_600_000;
  const at = 10 * EPOCH + 5_000;
  const node = (status: NodeStatus, probe?: object, reputation = 0.5) => ({ status, reputation, probe });
  const ok = { ok: true, proof: false };
  const bad = { ok: false, proof: false };
  const proof = { ok: false, proof: true };

  it.each([
    ['first failure keeps ONLINE', node('ONLINE'), bad, undefined, 1, 0],
    [`${DEGRADE_AFTER_FAILURES} failures in a row degrade`, node('ONLINE', { consecutiveFailures: DEGRADE_AFTER_FAILURES - 1 }), bad, 'degrade', DEGRADE_AFTER_FAILURES, 0],
    ['a DEGRADED node failing again stays', node('DEGRADED', { consecutiveFailures: 5 }), bad, undefined, 6, 0],
    ['a DRAINING node is never degraded', node('DRAINING', { consecutiveFailures: 5 }), bad, undefined, 6, 0],
    ['one good probe does not recover yet', node('DEGRADED', { consecutiveFailures: 3 }), ok, undefined, 0, 1],
    [`${RECOVER_AFTER_SUCCESSES} good probes recover`, node('DEGRADED', { consecutiveSuccesses: RECOVER_AFTER_SUCCESSES - 1 }), ok, 'recover', 0, RECOVER_AFTER_SUCCESSES],
    ['signed proof quarantines', node('ONLINE', { consecutiveSuccesses: 9 }, 0.9), proof, 'quarantine', 1, 0],
    ['proof on a quarantined node changes nothing more', node('QUARANTINED'), proof, undefined, 1, 0],
  ])('%s', (_what, n, verdict, event, failures, successes) => {
    const o = afterProbe(n, verdict, at, EPOCH);
    expect(o.event).toBe(event);
    expect(o.probe).toMatchObject({ consecutiveFailures: failures, consecutiveSuccesses: successes, lastAt: at, epoch: 10 });
    if (verdict.proof) expect(o.reputation).toBe(0);
  });

  it('counts probes per epoch and closes the previous epoch on the first probe of a new one', () => {
    const same = afterProbe(node('ONLINE', { epoch: 10, epochOk: 4, epochFailed: 1 }), ok, at, EPOCH);
    expect(same.closed).toBeUndefined();
    expect(same.probe).toMatchObject({ epoch: 10, epochOk: 5, epochFailed: 1 });
    const next = afterProbe(node('ONLINE', { epoch: 9, epochOk: 58, epochFailed: 2 }), bad, at, EPOCH);
    expect(next.closed).toEqual({ epoch: 9, ok: 58, failed: 2 });
    expect(next.probe).toMatchObject({ epoch: 10, epochOk: 0, epochFailed: 1 });
  });
});

describe('settleEpoch', () => {
  const p = { periodMs: 60_000, epochMs: 3_600_000, totalGpus: 2, reputation: 1 };
  it.each([
    ['a full healthy hour of 2 GPUs at reputation 1', { epoch: 7, ok: 60, failed: 0 }, p, 7200, 2 * REWARD_PER_HEALTHY_GPU_HOUR, 0],
    ['half the reward at reputation 0.5', { epoch: 7, ok: 60, failed: 0 }, { ...p, reputation: 0.5 }, 7200, REWARD_PER_HEALTHY_GPU_HOUR, 0],
    ['more probes than periods are capped at the epoch', { epoch: 7, ok: 90, failed: 0 }, p, 7200, 2 * REWARD_PER_HEALTHY_GPU_HOUR, 0],
    ['failed probes cost twice the reward rate', { epoch: 7, ok: 30, failed: 30 }, p, 3600, REWARD_PER_HEALTHY_GPU_HOUR, PENALTY_PER_FAILED_GPU_HOUR],
    ['nothing probed, nothing earned', { epoch: 7, ok: 0, failed: 0 }, p, 0, 0, 0],
  ])('%s', (_what, counts, params, gpuSeconds, reward, penalty) => {
    expect(settleEpoch(counts, params)).toEqual({ epoch: 7, okProbes: counts.ok, failedProbes: counts.failed, healthyGpuSeconds: gpuSeconds, reward, penalty });
  });

  it('names the ledger posting per node and epoch', () => expect(rewardKey(42, 'n1')).toBe('epoch/42/node/n1/reward'));
});
