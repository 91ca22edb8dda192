// Hard constraints: a node that fails any of these cannot run the job. Each filter names its rejection
// so a waiting job can say why (the diagnosis becomes the job's pendingReason).
import type { Job, Node } from '../model';
import { isSchedulable } from '../node/status';

export type Candidate = Pick<
  Node,
  'id' | 'providerId' | 'status' | 'gpuModel' | 'vramGb' | 'freeGpus' | 'totalGpus' | 'pricePerGpuHour' | 'region' | 'reputation'
> & Partial<Pick<Node, 'location' | 'labels'>>;

export type MatchJob = Pick<Job, 'id' | 'accountId' | 'resources' | 'placement' | 'maxPricePerGpuHour' | 'attempts'> & Partial<Pick<Job, 'pinNodeId'>>;

export interface Filter {
  name: string;
  /** relaxed when no node passes the filters otherwise (a preference that must not strand a job) */
  soft?: boolean;
  /** undefined when the node passes, else the reason shown to the user */
  check(job: MatchJob, node: Candidate): string | undefined;
}

export const FILTERS: readonly Filter[] = [
  // cheapest checks first: most nodes are rejected by state or capacity
  { name: 'state', check: (_j, n) => (isSchedulable(n) ? undefined : `node ${n.status.toLowerCase()}`) },
  // internal: checker canaries run on the one node they test
  { name: 'pinned', check: (j, n) => (!j.pinNodeId || j.pinNodeId === n.id ? undefined : 'pinned to another node') },
  { name: 'freeGpus', check: (j, n) => (n.freeGpus >= j.resources.gpus ? undefined : `fewer than ${j.resources.gpus} free GPUs`) },
  {
    name: 'model',
    check: (j, n) => (!j.resources.gpuModels || j.resources.gpuModels.includes(n.gpuModel) ? undefined : `model not in [${j.resources.gpuModels.join(', ')}]`),
  },
  { name: 'vram', check: (j, n) => (!j.resources.minVramGb || n.vramGb >= j.resources.minVramGb ? undefined : `less than ${j.resources.minVramGb} GB VRAM`) },
  {
    name: 'price',
    check: (j, n) => (j.maxPricePerGpuHour === undefined || n.pricePerGpuHour <= j.maxPricePerGpuHour ? undefined : 'price above cap'),
  },
  {
    name: 'region',
    check: (j, n) => (!j.placement?.regions || j.placement.regions.includes(n.region) ? undefined : 'region not allowed'),
  },
  {
    // a node that already lost this job is avoided (DESIGN: re-placement avoids nodes that failed it)
    name: 'avoidFailed',
    soft: true,
    check: (j, n) => (j.attempts.some((a) => a.nodeId === n.id && a.status === 'LOST') ? 'already failed this job' : undefined),
  },
  { name: 'selfDealing', check: (j, n) => (n.providerId === j.accountId ? 'node belongs to the consumer' : undefined) },
];
