// The burst decision, pure: which instances to launch for a backlog. It reuses the matcher's hard filters
// on a "virtual node" per instance type, so a launch is only made for jobs that node would then take.
//
//   backlog (QUEUED, waited ≥ waitSeconds, pendingReason says no capacity), highest priority and oldest first
//     → first onto spare GPUs of instances still booting or planned in this run (one backlog, one launch)
//     → else the cheapest allowed type whose virtual node passes every hard filter, within the limits
//   a gang (resources.nodes > 1) needs one instance per rank, all or none
import { FILTERS, type Candidate, type MatchJob } from '../matcher/filters';
import type { Job } from '../model';
import type { BurstInstance } from './model';
import { hourlyCostUsd, type BurstSettings, type InstanceTypeSpec } from './settings';

export const SKIP_NO_TYPE = 'no allowed instance type fits';
export const SKIP_MAX_INSTANCES = 'maxInstances reached';
export const SKIP_MAX_GPUS = 'maxGpus reached';
export const SKIP_BUDGET = 'daily budget reached';

export type BacklogJob = MatchJob & Pick<Job, 'status' | 'priority' | 'createdAt' | 'queuedAt' | 'pendingReason'> & Partial<Pick<Job, 'notBefore'>>;

export interface PlanInput {
  now: number;
  backlog: readonly BacklogJob[];
  settings: BurstSettings;
  /** the burst provider's account: its nodes are never the consumer's own */
  burstAccountId: string;
  /** live burst records (launching, booting, running, …) */
  live: readonly BurstInstance[];
  /** USD already committed today (the store's day counter) */
  committedTodayUsd: number;
  /** free GPUs of running instances' nodes, by launch id: the sweep will use them, so they count as spare */
  spareGpus?: Readonly<Record<string, number>>;
}

export interface Launch {
  instanceType: string;
  market: 'spot' | 'on-demand';
  gpus: number;
  gpuModel: string;
  hourlyCostUsd: number;
  jobIds: string[];
  reason: string;
}

export interface Plan {
  launches: Launch[];
  /** jobs that waited for capacity but get no launch, with why */
  skipped: { jobId: string; reason: string }[];
}

/**
 * The matcher says "no capacity" with these (a gang: too few distinct nodes fit, functions/domain/matcher/
 * gang.ts); other reasons (concurrent claims, retry backoff) are not burst's business.
 */
export function waitsForCapacity(pendingReason: string | undefined): boolean {
  return (
    !!pendingReason &&
    (pendingReason.startsWith('no nodes with free capacity') || /^0 of \d+ nodes fit/.test(pendingReason) || /^a gang of \d+ needs \d+ nodes: /.test(pendingReason))
  );
}

// the soft filter (avoid nodes that failed the job) and pinning (canaries) do not apply to a node not yet born
const HARD = FILTERS.filter((f) => !f.soft && f.name !== 'pinned');

/** The node an instance of `t` would register as, with `free` GPUs left. */
export function virtualNode(t: InstanceTypeSpec, s: Pick<BurstSettings, 'poolRegion'>, providerId: string, free = t.gpus): Candidate {
  return {
    id: `virtual-${t.instanceType}`,
    providerId,
    status: 'ONLINE',
    gpuModel: t.gpuModel,
    vramGb: t.vramGb,
    freeGpus: free,
    totalGpus: t.gpus,
    pricePerGpuHour: t.pricePerGpuHour,
    region: s.poolRegion,
    reputation: 0.5, // a new node's reputation (functions/usecases/nodes.ts)
    labels: burstLabels(t),
    gpus: Array.from({ length: t.gpus }, (_, index) => ({ index, uuid: `virtual-${index}`, model: t.gpuModel, vramGb: t.vramGb, computeCap: t.computeCapability })),
  };
}

/** Labels every burst node carries: jobs may ask for (or, by labels, against) burst capacity. */
export const burstLabels = (t: Pick<InstanceTypeSpec, 'instanceType'>) => ({ 'gpupool.burst': 'true', 'ec2.instanceType': t.instanceType });

export const fits = (job: MatchJob, node: Candidate) => HARD.every((f) => f.check(job, node) === undefined);

interface Slot {
  spec: InstanceTypeSpec;
  free: number;
  /** index into plan.launches, or undefined for an instance that already exists */
  launch?: number;
}

export function planLaunches(input: PlanInput): Plan {
  const { settings: s, now } = input;
  const plan: Plan = { launches: [], skipped: [] };
  const specs = new Map(s.instanceTypes.map((t) => [t.instanceType, t]));
  const market = s.market;
  // instances launched but not yet serving count as spare capacity, so one backlog does not launch twice
  const slots: Slot[] = input.live
    .filter((i) => (i.state === 'launching' || i.state === 'booting') && specs.has(i.instanceType))
    .map((i) => ({ spec: specs.get(i.instanceType)!, free: i.gpus }))
    .concat(input.live.filter((i) => i.state === 'running' && (input.spareGpus?.[i.id] ?? 0) > 0 && specs.has(i.instanceType)).map((i) => ({ spec: specs.get(i.instanceType)!, free: input.spareGpus![i.id] })));
  let instances = input.live.length;
  let gpus = input.live.reduce((n, i) => n + i.gpus, 0);
  let budgetLeft = s.dailyBudgetUsd - input.committedTodayUsd;
  const byCost = [...s.instanceTypes].sort((a, b) => hourlyCostUsd(a, market) - hourlyCostUsd(b, market) || a.gpus - b.gpus || a.instanceType.localeCompare(b.instanceType));

  const eligible = input.backlog
    .filter((j) => j.status === 'QUEUED' && !j.pinNodeId && now - j.queuedAt >= s.waitSeconds * 1000 && (j.notBefore ?? 0) <= now && waitsForCapacity(j.pendingReason))
    .sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt);

  for (const job of eligible) {
    const ranks = job.resources.nodes ?? 1;
    const taken: { slot: Slot; gpus: number }[] = [];
    const newSlots: Slot[] = [];
    let why: string | undefined;
    for (let r = 0; r < ranks && !why; r++) {
      const used = new Set(taken.map((t) => t.slot));
      const slot = [...slots, ...newSlots].find((x) => !used.has(x) && fits(job, virtualNode(x.spec, s, input.burstAccountId, x.free)));
      if (slot) {
        taken.push({ slot, gpus: job.resources.gpus });
        slot.free -= job.resources.gpus;
        continue;
      }
      const fitting = byCost.filter((t) => fits(job, virtualNode(t, s, input.burstAccountId)));
      if (fitting.length === 0) {
        why = SKIP_NO_TYPE;
        break;
      }
      const pending = newSlots.reduce((n, x) => n + x.spec.gpus, 0);
      const cost = newSlots.reduce((n, x) => n + hourlyCostUsd(x.spec, market), 0);
      const spec = fitting.find((t) => instances + newSlots.length + 1 <= s.maxInstances && gpus + pending + t.gpus <= s.maxGpus && hourlyCostUsd(t, market) + cost <= budgetLeft);
      if (!spec) {
        why = instances + newSlots.length + 1 > s.maxInstances ? SKIP_MAX_INSTANCES : fitting.every((t) => gpus + pending + t.gpus > s.maxGpus) ? SKIP_MAX_GPUS : SKIP_BUDGET;
        break;
      }
      const slot2: Slot = { spec, free: spec.gpus - job.resources.gpus };
      newSlots.push(slot2);
      taken.push({ slot: slot2, gpus: job.resources.gpus });
    }
    if (why) {
      // all or none: give back what this job took
      for (const t of taken) t.slot.free += t.gpus;
      plan.skipped.push({ jobId: job.id, reason: why });
      continue;
    }
    for (const slot of newSlots) {
      slot.launch = plan.launches.length;
      const cost = hourlyCostUsd(slot.spec, market);
      plan.launches.push({ instanceType: slot.spec.instanceType, market, gpus: slot.spec.gpus, gpuModel: slot.spec.gpuModel, hourlyCostUsd: cost, jobIds: [], reason: '' });
      slots.push(slot);
      instances++;
      gpus += slot.spec.gpus;
      budgetLeft -= cost;
    }
    for (const t of taken) if (t.slot.launch !== undefined) plan.launches[t.slot.launch].jobIds.push(job.id);
  }
  for (const l of plan.launches) l.reason = launchReason(l, input.backlog);
  return plan;
}

/** "for 2 waiting job(s): 01j…(2×A100 ≥40GB), …" — what GET /v1/burst shows as the launch's why. */
function launchReason(l: Launch, backlog: readonly BacklogJob[]): string {
  const byId = new Map(backlog.map((j) => [j.id, j]));
  const parts = l.jobIds.map((id) => {
    const r = byId.get(id)!.resources;
    return `${id} (${r.gpus}×${r.gpuModels?.join('|') ?? 'any'}${r.minVramGb ? ` ≥${r.minVramGb}GB` : ''}${(r.nodes ?? 1) > 1 ? ` ×${r.nodes} nodes` : ''})`;
  });
  return `cheapest allowed type for ${l.jobIds.length} job(s) waiting without capacity: ${parts.join(', ')}`;
}
