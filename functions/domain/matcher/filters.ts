// Hard constraints: a node that fails any of these cannot run the job. Each filter names its rejection
// so a waiting job can say why (the diagnosis becomes the job's pendingReason).
import type { Job, Node } from '../model';
import { isSchedulable } from '../node/status';

export type Candidate = Pick<
  Node,
  'id' | 'providerId' | 'status' | 'gpuModel' | 'vramGb' | 'freeGpus' | 'totalGpus' | 'pricePerGpuHour' | 'region' | 'reputation'
> & Partial<Pick<Node, 'location' | 'labels' | 'gpus' | 'cudaVersion' | 'probe' | 'runtime' | 'images'>>;

/** "8.9" < "9.0", "12.10" > "12.2": compares dotted versions numerically */
export function versionAtLeast(have: string | undefined, want: string): boolean {
  if (!have) return false;
  const a = have.split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export type MatchJob = Pick<Job, 'id' | 'accountId' | 'resources' | 'placement' | 'maxPricePerGpuHour' | 'attempts'> & Partial<Pick<Job, 'pinNodeId' | 'image'>> & ReplicaAvoid & ServiceSpread & RuntimePolicy;

/**
 * Internal, filled in by placement for a replica of a replicated job (functions/usecases/replicas.ts):
 * the nodes and providers its sibling replicas run or ran on. Not part of the job item.
 */
export interface ReplicaAvoid {
  replicaAvoid?: { nodes: readonly string[]; providers: readonly string[] };
}

/**
 * Internal, filled in by placement for a service's replica (functions/usecases/replicas.ts serviceSpread):
 * the nodes and providers the service's other live replicas run on. A preference, not a rule: one node
 * or provider lost should not take two replicas with it, but a pool too small to spread still runs them.
 */
export interface ServiceSpread {
  serviceSpread?: { nodes: readonly string[]; providers: readonly string[] };
}

/**
 * Internal, filled in by placement from the deployment's settings (`allowProcessRuntime`): whether jobs
 * may go to nodes that run them as plain processes. Such jobs share the host with other tenants' jobs
 * and the agent (/proc/<pid>/environ, the node key file), so a pool of strangers refuses them. Absent:
 * no rule (the pure matcher without a deployment, as in unit tests and burst planning).
 */
export interface RuntimePolicy {
  runtimePolicy?: { allowProcess: boolean };
}

/** A node's runtime as the matcher and offers see it: an agent that did not say (older agents) counts as process. */
export const runtimeOf = (n: Pick<Candidate, 'runtime'>): 'docker' | 'process' => n.runtime ?? 'process';

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
  // tenant isolation: a process-runtime node lets one job read another's secrets; only a deployment that allows it uses one
  {
    name: 'runtime',
    check: (j, n) => (!j.runtimePolicy || j.runtimePolicy.allowProcess || runtimeOf(n) === 'docker' ? undefined : 'process runtime (jobs not isolated; this pool places work on docker nodes only)'),
  },
  { name: 'freeGpus', check: (j, n) => (n.freeGpus >= j.resources.gpus ? undefined : `fewer than ${j.resources.gpus} free GPUs`) },
  {
    name: 'model',
    check: (j, n) => (!j.resources.gpuModels || j.resources.gpuModels.includes(n.gpuModel) ? undefined : `model not in [${j.resources.gpuModels.join(', ')}]`),
  },
  { name: 'vram', check: (j, n) => (!j.resources.minVramGb || n.vramGb >= j.resources.minVramGb ? undefined : `less than ${j.resources.minVramGb} GB VRAM`) },
  {
    name: 'computeCapability',
    check: (j, n) => {
      const want = j.resources.minComputeCapability;
      if (!want) return undefined;
      const caps = n.gpus?.map((g) => g.computeCap) ?? [];
      return caps.length > 0 && caps.every((c) => versionAtLeast(c, want)) ? undefined : `compute capability below ${want}`;
    },
  },
  {
    name: 'cuda',
    check: (j, n) => (!j.resources.minCudaVersion || versionAtLeast(n.cudaVersion, j.resources.minCudaVersion) ? undefined : `CUDA below ${j.resources.minCudaVersion}`),
  },
  {
    name: 'labels',
    check: (j, n) => {
      const want = j.placement?.labels;
      if (!want) return undefined;
      return Object.entries(want).every(([k, v]) => n.labels?.[k] === v) ? undefined : 'labels do not match';
    },
  },
  {
    name: 'reputation',
    check: (j, n) => (j.placement?.minReputation === undefined || n.reputation >= j.placement.minReputation ? undefined : 'reputation below floor'),
  },
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
    // a gang's rank stopped because another rank failed (GANG_ABORTED) says nothing against its node
    check: (j, n) => (j.attempts.some((a) => a.nodeId === n.id && a.status === 'LOST' && a.reason !== 'GANG_ABORTED') ? 'already failed this job' : undefined),
  },
  // replicated verification: replicas on one node prove nothing (a liar would agree with itself)
  { name: 'replicaNodes', check: (j, n) => (j.replicaAvoid?.nodes.includes(n.id) ? 'runs another replica of this job' : undefined) },
  // independent witnesses: prefer providers no sibling uses, but a pool with fewer providers still runs it
  { name: 'replicaProviders', soft: true, check: (j, n) => (j.replicaAvoid?.providers.includes(n.providerId) ? 'provider runs another replica' : undefined) },
  // a service's replicas on other nodes, then other providers (listed last: the first preferences given up)
  { name: 'serviceNodes', soft: true, check: (j, n) => (j.serviceSpread?.nodes.includes(n.id) ? 'runs another replica of this service' : undefined) },
  { name: 'serviceProviders', soft: true, check: (j, n) => (j.serviceSpread?.providers.includes(n.providerId) ? "provider runs another of this service's replicas" : undefined) },
  { name: 'selfDealing', check: (j, n) => (n.providerId === j.accountId ? 'node belongs to the consumer' : undefined) },
];
