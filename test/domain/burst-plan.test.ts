// The burst decision, table-driven: backlogs × instance catalogues × limits → launches.
import { describe, expect, it } from 'vitest';
import { nextStep, REASON_BOOT_TIMEOUT, type InstanceView } from '../../functions/domain/burst/lifecycle';
import type { BurstInstance } from '../../functions/domain/burst/model';
import { planLaunches, SKIP_BUDGET, SKIP_MAX_GPUS, SKIP_MAX_INSTANCES, SKIP_NO_TYPE, waitsForCapacity, type BacklogJob } from '../../functions/domain/burst/plan';
import type { Candidate, MatchJob } from '../../functions/domain/matcher/filters';
import { pickGang } from '../../functions/domain/matcher/gang';
import { parseBurstSettings, type InstanceTypeSpec } from '../../functions/domain/burst/settings';

const NOW = 1_700_000_000_000;
const T: Record<string, InstanceTypeSpec> = {
  g5: { instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus: 1, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 1.006, spotCostPerHourUsd: 0.4 },
  g5x4: { instanceType: 'g5.12xlarge', gpuModel: 'A10G', gpus: 4, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 5.672, spotCostPerHourUsd: 2.1 },
  p4d: { instanceType: 'p4d.24xlarge', gpuModel: 'A100', gpus: 8, vramGb: 40, pricePerGpuHour: 4_000_000, costPerHourUsd: 32.77, spotCostPerHourUsd: 12 },
  p5: { instanceType: 'p5.48xlarge', gpuModel: 'H100', gpus: 8, vramGb: 80, pricePerGpuHour: 9_000_000, costPerHourUsd: 98.32 },
};
const NO_CAP = 'no nodes with free capacity match the requested GPU models';

let n = 0;
function job(over: Partial<BacklogJob> & { gpus?: number; models?: string[]; vram?: number; nodes?: number } = {}): BacklogJob {
  const { gpus = 1, models, vram, nodes = 1, ...rest } = over;
  return {
    id: `j${++n}`,
    accountId: 'consumer',
    status: 'QUEUED',
    priority: 0,
    createdAt: NOW - 600_000 + n,
    queuedAt: NOW - 600_000,
    pendingReason: NO_CAP,
    attempts: [],
    resources: { gpus, nodes, ...(models ? { gpuModels: models } : {}), ...(vram ? { minVramGb: vram } : {}) },
    ...rest,
  };
}
const settings = (over: Record<string, unknown> = {}) =>
  parseBurstSettings({ enabled: true, instanceTypes: [T.g5, T.g5x4, T.p4d, T.p5], maxInstances: 10, maxGpus: 64, dailyBudgetUsd: 1000, waitSeconds: 60, ...over });
const rec = (over: Partial<BurstInstance>): BurstInstance => ({
  id: 'l1', instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus: 1, market: 'spot', hourlyCostUsd: 0.4, state: 'booting', reason: '', jobIds: [], createdAt: NOW - 60_000, launchedAt: NOW - 60_000, version: 1, ...over,
});
const plan = (backlog: BacklogJob[], over: Record<string, unknown> = {}, live: BurstInstance[] = [], committed = 0) =>
  planLaunches({ now: NOW, backlog, settings: settings(over), burstAccountId: 'burst-provider', live, committedTodayUsd: committed });
const types = (p: ReturnType<typeof plan>) => p.launches.map((l) => l.instanceType);

describe('planLaunches', () => {
  it.each([
    ['one small job → the cheapest type that fits', [job()], {}, ['g5.xlarge']],
    ['A100 ≥ 40 GB → p4d', [job({ models: ['A100', 'H100'], vram: 40 })], {}, ['p4d.24xlarge']],
    ['80 GB → only p5 has it', [job({ vram: 80 })], {}, ['p5.48xlarge']],
    ['3 GPUs → one 4-GPU box, not three 1-GPU boxes', [job({ gpus: 3 })], {}, ['g5.12xlarge']],
    ['two 2-GPU jobs share one 4-GPU launch', [job({ gpus: 2 }), job({ gpus: 2 })], {}, ['g5.12xlarge']],
    ['a gang of 2 nodes × 1 GPU → two instances', [job({ nodes: 2 })], {}, ['g5.xlarge', 'g5.xlarge']],
    ['on-demand prices pick by on-demand cost', [job({ models: ['A10G'] })], { market: 'on-demand' }, ['g5.xlarge']],
    ['waited too briefly → nothing', [job({ queuedAt: NOW - 10_000 })], {}, []],
    ['waiting for another reason (retry backoff) → nothing', [job({ pendingReason: 'retry 1 of 3 after exit code 1' })], {}, []],
    ['canaries (pinned) never burst', [job({ pinNodeId: 'n1' })], {}, []],
    ['0 of 3 nodes fit counts as no capacity', [job({ pendingReason: '0 of 3 nodes fit: 3 fewer than 1 free GPUs' })], {}, ['g5.xlarge']],
    // the gang matcher's words when too few distinct nodes fit (functions/domain/matcher/gang.ts)
    ['a gang short of nodes counts as no capacity', [job({ nodes: 2, pendingReason: 'a gang of 2 needs 2 nodes: 1 of 3 nodes fit: 2 fewer than 1 free GPUs' })], {}, ['g5.xlarge', 'g5.xlarge']],
    ['price cap below every type → nothing', [job({ maxPricePerGpuHour: 1_000_000 })], {}, []],
    ['region not allowed → nothing', [job({ placement: { regions: ['eu-west'] } })], {}, []],
    ['the burst region allowed → launch', [job({ placement: { regions: ['aws'] } })], {}, ['g5.xlarge']],
  ])('%s', (_name, backlog, over, want) => {
    expect(types(plan(backlog as BacklogJob[], over as Record<string, unknown>))).toEqual(want);
  });

  it('higher priority goes first when the limits leave room for one', () => {
    const low = job({ models: ['A10G'] });
    const high = job({ models: ['H100'], priority: 5 });
    const p = plan([low, high], { maxInstances: 1 });
    expect(types(p)).toEqual(['p5.48xlarge']);
    expect(p.skipped).toEqual([{ jobId: low.id, reason: SKIP_MAX_INSTANCES }]);
  });

  it.each([
    ['maxInstances', { maxInstances: 1 }, [], 0, SKIP_MAX_INSTANCES],
    ['maxGpus', { maxGpus: 8 }, [rec({ gpus: 8, state: 'running' })], 0, SKIP_MAX_GPUS],
    ['daily budget', { dailyBudgetUsd: 10 }, [], 9.8, SKIP_BUDGET],
    ['no type fits', {}, [], 0, SKIP_NO_TYPE],
  ])('respects %s', (_name, over, live, committed, reason) => {
    const jobs = reason === SKIP_NO_TYPE ? [job({ models: ['B200'] })] : [job(), job({ models: ['H100'] })];
    const p = plan(jobs, over, live as BurstInstance[], committed as number);
    expect(p.skipped.map((s) => s.reason)).toContain(reason);
    const launchedGpus = p.launches.reduce((s, l) => s + l.gpus, 0) + (live as BurstInstance[]).reduce((s, l) => s + l.gpus, 0);
    expect(launchedGpus).toBeLessThanOrEqual((over as { maxGpus?: number }).maxGpus ?? 64);
  });

  it('takes a cheaper type that fits the GPU limit when the cheapest does not', () => {
    // 2 GPUs left under maxGpus: the 4-GPU box is out, two 1-GPU boxes are not needed for a 1-GPU job
    expect(types(plan([job()], { maxGpus: 2 }, [rec({ gpus: 1 })]))).toEqual([]);
    expect(types(plan([job({ models: ['A10G'] }), job({ models: ['A10G'] })], { maxGpus: 2 }, []))).toEqual(['g5.xlarge', 'g5.xlarge']);
  });

  it('counts instances still booting: one backlog never launches twice', () => {
    const j = job();
    const first = plan([j]);
    expect(first.launches).toHaveLength(1);
    const booting = rec({ instanceType: first.launches[0].instanceType, gpus: first.launches[0].gpus, state: 'booting', jobIds: [j.id] });
    expect(plan([j], {}, [booting]).launches).toEqual([]);
    // a second job of another shape still gets its own
    expect(types(plan([j, job({ models: ['H100'] })], {}, [booting]))).toEqual(['p5.48xlarge']);
  });

  it('counts free GPUs of running burst nodes: a stale pendingReason does not launch again', () => {
    const running = rec({ id: 'r1', state: 'running', gpus: 1 });
    expect(planLaunches({ now: NOW, backlog: [job()], settings: settings(), burstAccountId: 'b', live: [running], committedTodayUsd: 0, spareGpus: { r1: 1 } }).launches).toEqual([]);
    expect(planLaunches({ now: NOW, backlog: [job()], settings: settings(), burstAccountId: 'b', live: [running], committedTodayUsd: 0, spareGpus: { r1: 0 } }).launches).toHaveLength(1);
  });

  it('says why it launched', () => {
    const j = job({ gpus: 2, models: ['A10G'], vram: 24 });
    expect(plan([j]).launches[0]).toMatchObject({ jobIds: [j.id], market: 'spot', hourlyCostUsd: 2.1, reason: expect.stringContaining(`${j.id} (2×A10G ≥24GB)`) });
  });
});

describe('nextStep', () => {
  const s = { idleMinutes: 10, bootTimeoutMinutes: 20 };
  const node = (free: number, status: 'ONLINE' | 'DRAINING' | 'DEREGISTERED' = 'ONLINE') => ({ id: 'n1', status, freeGpus: free, totalGpus: 1 });
  it.each<[string, InstanceView, ReturnType<typeof nextStep>['kind']]>([
    ['booting, node registered → link', { record: rec({ instanceId: 'i-1' }), node: node(1), ec2: 'running' }, 'linkNode'],
    ['booting past the boot timeout → terminate', { record: rec({ instanceId: 'i-1', launchedAt: NOW - 21 * 60_000 }), ec2: 'running' }, 'terminate'],
    ['running and busy → nothing', { record: rec({ state: 'running', instanceId: 'i-1' }), node: node(0), ec2: 'running' }, 'none'],
    ['running, idle for the first time → idle since now', { record: rec({ state: 'running', instanceId: 'i-1' }), node: node(1), ec2: 'running' }, 'idle'],
    ['idle long enough → drain', { record: rec({ state: 'running', instanceId: 'i-1', idleSince: NOW - 11 * 60_000 }), node: node(1), ec2: 'running' }, 'drain'],
    ['idle but not long enough → nothing', { record: rec({ state: 'running', instanceId: 'i-1', idleSince: NOW - 60_000 }), node: node(1), ec2: 'running' }, 'none'],
    ['was idle, now busy → busy', { record: rec({ state: 'running', instanceId: 'i-1', idleSince: NOW - 60_000 }), node: node(0), ec2: 'running' }, 'busy'],
    ['draining and idle → terminate', { record: rec({ state: 'draining', instanceId: 'i-1' }), node: node(1, 'DRAINING'), ec2: 'running' }, 'terminate'],
    ['spot reclaimed (terminated by EC2) → gone', { record: rec({ state: 'running', instanceId: 'i-1' }), node: node(0, 'DRAINING'), ec2: 'terminated' }, 'gone'],
    ['terminating and EC2 done → gone', { record: rec({ state: 'terminating', instanceId: 'i-1' }), ec2: 'shutting-down' }, 'gone'],
    ['launching, RunInstances answer lost → retry', { record: rec({ state: 'launching', createdAt: NOW - 120_000, launchedAt: NOW - 120_000 }) }, 'retryLaunch'],
    ['launching just now → wait', { record: rec({ state: 'launching', launchedAt: NOW - 1000 }) }, 'none'],
  ])('%s', (_name, view, kind) => {
    expect(nextStep(view, s, NOW).kind).toBe(kind);
  });
  it('names the boot timeout', () => {
    expect(nextStep({ record: rec({ instanceId: 'i-1', launchedAt: NOW - 21 * 60_000 }), ec2: 'running' }, s, NOW)).toEqual({ kind: 'terminate', reason: REASON_BOOT_TIMEOUT });
  });
});

describe('parseBurstSettings', () => {
  it('is off by default with the Deep Learning AMI parameter', () => {
    expect(parseBurstSettings(undefined)).toMatchObject({ enabled: false, market: 'spot', spotFallback: true, amiParameter: expect.stringContaining('/aws/service/deeplearning/') });
  });
  it('lists every problem', () => {
    expect(() => parseBurstSettings({ enabled: true, maxInstances: -1, securityGroupId: 'sg-1' })).toThrow(/instanceTypes[\s\S]*maxInstances[\s\S]*securityGroupId|maxInstances[\s\S]*instanceTypes/);
  });
});

describe('what counts as waiting for capacity', () => {
  it('takes the gang matcher’s own words for too few nodes', () => {
    const gang: MatchJob = { id: 'g', accountId: 'c', resources: { gpus: 1, nodes: 2 }, attempts: [] };
    const one: Candidate & { probeUrl: string } = {
      id: 'n1', providerId: 'p', status: 'ONLINE', gpuModel: 'A100', vramGb: 80, freeGpus: 1, totalGpus: 1, pricePerGpuHour: 1, region: 'r', reputation: 0.5, probeUrl: 'http://10.0.0.1:7000',
    };
    const pick = pickGang(gang, [one], () => 0);
    expect(pick.reason).toBeDefined();
    expect(waitsForCapacity(pick.reason)).toBe(true);
    expect(waitsForCapacity('retry 1 of 3 after exit code 1')).toBe(false);
  });
});
