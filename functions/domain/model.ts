// The shapes every part of gpupool agrees on. Pure types: no I/O, no clock.
// Units are in the names or comments: prices in micro-credits per GPU-hour, times in epoch ms, VRAM in GB.

export const ROLES = ['admin', 'consumer', 'provider', 'node'] as const;
export type Role = (typeof ROLES)[number];

/** 1 credit = 1,000,000 micro-credits; amounts are always integers. */
export const MICRO = 1_000_000;

export interface Account {
  id: string;
  name: string;
  role: Exclude<Role, 'node'>;
  createdAt: number;
  /** micro-credits */
  available: number;
  held: number;
  /** free stake; stake bound to nodes is `locked`, unstaked stake waiting out the cooldown `unbonding` */
  staked: number;
  locked?: number;
  unbonding?: number;
}

/** What the authorizer resolves an API key or node key into. */
export interface Caller {
  accountId: string;
  role: Role;
  keyId: string;
  /** set for node keys: the node this key speaks for */
  nodeId?: string;
  /** a node key whose node has an API Gateway usage key of its own (AWS; functions/usecases/agent-usage-keys.ts) */
  ownUsageKey?: boolean;
}

export const JOB_STATUSES = ['QUEUED', 'ASSIGNED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
export const LIVE_JOB_STATUSES: readonly JobStatus[] = ['ASSIGNED', 'RUNNING'];

export const ATTEMPT_STATUSES = ['ASSIGNED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED', 'TIMED_OUT'] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

/** Typed reasons carried by final jobs and ended attempts. */
export const REASONS = [
  'EXIT_NONZERO',
  'NODE_LOST',
  'DISPATCH_TIMEOUT',
  'MAX_ATTEMPTS',
  'QUEUE_TTL_EXPIRED',
  'CANCELLED_BY_USER',
  'TIMED_OUT',
  'NODE_DEREGISTERED',
  'NODE_DRAINED',
  'RUNTIME_ERROR',
  /** an input did not check out on the node (sha256, size, limit, unreachable URL): the consumer's to fix (docs/data.md, Inputs) */
  'INPUT_FAILED',
  'NODE_QUARANTINED',
  /** a gang's rank ended because another rank of the same gang failed or was lost (docs/scheduling.md) */
  'GANG_ABORTED',
  /** a replicated job whose replicas' results differed (docs/checkers.md, replicated verification) */
  'VERIFICATION_MISMATCH',
  /** the image pull failed (agent/runtime/pull.ts): the registry has no such image, or refused the node —
   * the consumer's to fix, so the job fails; an unreachable registry or a full disk is the node's, so the
   * attempt is lost and the job placed again (domain/job/pull.ts) */
  'IMAGE_NOT_FOUND',
  'REGISTRY_UNAUTHORIZED',
  'REGISTRY_UNREACHABLE',
  'NO_DISK_SPACE',
  /** a secret the job refers to was deleted before an attempt of it started (docs/data.md, Secrets) */
  'SECRET_NOT_FOUND',
  /** a service replica the service no longer wants: scaled down, replaced by a rolling update, unhealthy, or the service deleted (docs/services.md) */
  'REPLICA_RETIRED',
  /** a service replica's next billing period could not be held: its owner ran out of credits (docs/services.md, Money) */
  'INSUFFICIENT_CREDITS',
  /** a job it was to run `after` ended other than SUCCEEDED (docs/scheduling.md, Dependencies) */
  'DEPENDENCY_FAILED',
] as const;
export type Reason = (typeof REASONS)[number];

export interface Attempt {
  id: string;
  /** 0-based position in the job's attempts list */
  n: number;
  /** a gang's attempt: its rank in [0, resources.nodes); absent for single-node jobs */
  rank?: number;
  nodeId: string;
  status: AttemptStatus;
  reason?: Reason;
  assignedAt: number;
  startedAt?: number;
  /** the agent's start counter on its (latest) start call: a heartbeat listed before it cannot speak for this attempt (domain/job/start-ack.ts) */
  startSeq?: number;
  finishedAt?: number;
  exitCode?: number;
  /** micro-credits per GPU-hour on the node when placed */
  pricePerGpuHour: number;
  /** the node's provider, paid at settlement */
  providerId?: string;
  /** micro-credits held from the consumer when placed (escrow) */
  hold?: number;
  /** micro-credits charged when the attempt ended (settled); the rest of the hold went back */
  charged?: number;
  /** the node is pulling the job's image (its agent said so): RUNNING, but not metered until the pull ends */
  phase?: 'PULLING';
  /** when the node said it began the pull */
  pullStartedAt?: number;
  /** how long the pull took, as the node measured it; absent when the node already held the image */
  pullSeconds?: number;
  /** the image that ran: the registry's manifest digest, or the image ID of one that came from no registry */
  imageDigest?: string;
  /** the registry's (or engine's) own words when the pull failed */
  message?: string;
  /** a service replica's attempt: the agent's readiness probe passed on its last report (docs/services.md) */
  ready?: boolean;
  /** when `ready` last changed */
  readyChangedAt?: number;
  /** a service replica's attempt: where the node's ingress takes its traffic (the node's probe URL origin) */
  endpoint?: string;
  /** a service replica's billing period: 0 from the start, one more at each renewal (docs/services.md, Money) */
  segment?: number;
  /** when the current billing period began (metered from here; absent: from startedAt) */
  segmentStartedAt?: number;
  /** micro-credits the renewals charged for the periods before the current one (`charged` is the last period's) */
  segmentsCharged?: number;
  /** micro-credits of those periods' holds the renewals gave back */
  segmentsReleased?: number;
}

/** a job's input, as submitted (domain/files/schemas.ts) */
export type JobInput = { file: string; path: string } | { url: string; path: string; sha256?: string; size?: number };
/** a complete checkpoint: when, how big, by which attempt (its manifest: domain/files/keys.ts checkpointManifestKey(job, attemptId, seq)) */
export interface CheckpointInfo {
  at: number;
  bytes: number;
  files: number;
  attemptId: string;
  attemptN: number;
  seq: number;
}

export interface JobSpec {
  name?: string;
  image?: string;
  command: string[];
  env: Record<string, string>;
  resources: { gpus: number; gpuModels?: string[]; minVramGb?: number; minComputeCapability?: string; minCudaVersion?: string; nodes: number };
  placement?: { regions?: string[]; near?: { lat: number; lon: number }; labels?: Record<string, string>; minReputation?: number };
  maxPricePerGpuHour?: number;
  maxDurationSeconds: number;
  maxAttempts: number;
  priority: number;
  /** re-run when the command itself exits with one of these codes (infrastructure failures always re-run) */
  retry?: { onExitCodes: number[]; max: number; backoffSeconds: number };
  /** a job that waits QUEUED longer than this ends QUEUE_TTL_EXPIRED */
  queueTtlSeconds: number;
  /** POSTed the final job when it ends (docs/webhooks.md); deliveries are kept apart, in the webhooks table */
  webhook?: { url: string };
  /** placed under $GPUPOOL_INPUT_DIR before the command starts (docs/data.md, Inputs) */
  inputs?: JobInput[];
  /** $GPUPOOL_CHECKPOINT_DIR saved this often and restored into the next attempt (docs/data.md, Checkpoints) */
  checkpoint?: { intervalSeconds: number };
  /** the last complete checkpoint (its manifest is in the bucket): shown on the job view */
  lastCheckpoint?: CheckpointInfo;
  /** env names whose values come from the account's secrets: name → secret name (docs/data.md, Secrets); the values are never on the job */
  secretEnv?: Record<string, string>;
  /** the private image's registry login; the password is the account's secret of that name (docs/data.md, Private images) */
  registryAuth?: { server: string; username: string; passwordSecret: string };
  /** internal, never in the public schema: the only node this job may run on (checker canaries) */
  pinNodeId?: string;
  /** run on this many distinct nodes and compare their outputs (docs/checkers.md, replicated verification) */
  verification?: { replicas: number };
  /**
   * internal, never in the public schema: the replica group this job belongs to (the id of the job the
   * consumer submitted) and its place in it (0 = that job; siblings are `<group>-r<index>`)
   */
  replicaGroup?: string;
  replicaIndex?: number;
  /** a job array's member (docs/api.md, Arrays): the array's id, this job's index in it and its size; set by the control plane, never by the consumer; the view shows it as `array` */
  arrayMember?: { id: string; index: number; size: number };
  /**
   * internal, set by the control plane: this job is a replica of a service (docs/services.md). It never
   * ends by itself: maxDurationSeconds is its billing period, renewed while the service wants it.
   */
  service?: ServiceLink;
  /** run only after these jobs of the same account SUCCEEDED (docs/scheduling.md, Dependencies) */
  after?: string[];
}

/** What a service replica's job knows of its service. */
export interface ServiceLink {
  id: string;
  /** the service's spec generation this replica runs (a PATCH of image or env makes a new one) */
  generation: number;
  /** the port the process listens on (also given to it as PORT) */
  port: number;
  /** the path the agent's readiness probe GETs */
  readinessPath: string;
}

export interface Job extends JobSpec {
  id: string;
  accountId: string;
  status: JobStatus;
  reason?: Reason;
  pendingReason?: string;
  nodeId?: string;
  /** id of the one live attempt (for a gang: its lowest live rank); absent when none is live */
  liveAttemptId?: string;
  /**
   * a gang (resources.nodes > 1): the attempts of its current generation by rank and the rendezvous each
   * was told. Replaced when the gang is placed again; kept after it ends (docs/scheduling.md).
   */
  gang?: { attemptIds: string[]; masterPort: number; peers: string[] };
  attempts: Attempt[];
  createdAt: number;
  /** when the job last entered QUEUED (its queue TTL counts from here) */
  queuedAt: number;
  /** a retried job is not placed before this (backoff) */
  notBefore?: number;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  /** epoch ms when the consumer asked to cancel a running job */
  cancelRequested?: number;
  /** why the control plane asked to cancel (a service retiring its replica: REPLICA_RETIRED); absent: the consumer did (CANCELLED_BY_USER) */
  cancelReason?: Reason;
  /** set by the control plane: waiting for `after` (QUEUED, but out of the sweep's queue: domain/job/dependencies.ts) */
  held?: boolean;
  /** the dependency that ended other than SUCCEEDED and so failed this job (reason DEPENDENCY_FAILED) */
  failedDependency?: { id: string; status: JobStatus | 'MISSING' };
  /** incremented on every write; lets readers detect races */
  version: number;
}

export const NODE_STATUSES = ['ONLINE', 'DEGRADED', 'OFFLINE', 'DRAINING', 'QUARANTINED', 'DEREGISTERED'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface GpuDevice {
  index: number;
  uuid: string;
  /** normalised model, e.g. H100, A100, RTX4090 */
  model: string;
  vramGb: number;
  name?: string;
  computeCap?: string;
}

export interface Node {
  id: string;
  providerId: string;
  name: string;
  status: NodeStatus;
  statusReason?: string;
  region: string;
  location?: { lat: number; lon: number };
  gpus: GpuDevice[];
  /** the model all GPUs of the node share (mixed hosts register as several nodes) */
  gpuModel: string;
  vramGb: number;
  totalGpus: number;
  freeGpus: number;
  pricePerGpuHour: number;
  labels: Record<string, string>;
  reputation: number;
  queueUrl?: string;
  probeUrl?: string;
  driverVersion?: string;
  cudaVersion?: string;
  /** how the agent runs jobs, as registered; absent (an older agent) is treated as `process` */
  runtime?: 'docker' | 'process';
  createdAt: number;
  lastSeenAt?: number;
  /** seconds between heartbeats the node was last told to use */
  heartbeatSeconds?: number;
  /** the agent process that opened the last session */
  agentBootId?: string;
  telemetry?: unknown;
  /** images the agent's last heartbeat said the node holds, canonical (domain/matcher/image-cache.ts); its provider's word */
  images?: string[];
  /** images its provider asked the node to keep pulled (PATCH /v1/nodes/{id}); the agent pulls them in the background */
  warmImages?: string[];
  /** micro-credits its provider has earned with it (settlements, after the fee): a counter for display */
  earned?: number;
  /** stake locked for this node while it is registered (GPUs × the minimum per GPU), micro-credits */
  stakeLocked?: number;
  /** taking the node out of service: what is left to do (functions/domain/node/removal.ts) */
  removal?: import('./node/removal-record').Removal;
  /** the node's Ed25519 public key (base64 SPKI DER): probe answers must carry its signature */
  publicKey?: string;
  /** the checker's counters; registered GPUs (`gpus`, uuids included) are what probes are compared with */
  probe?: { consecutiveFailures: number; consecutiveSuccesses: number; lastAt: number; epoch?: number; epochOk?: number; epochFailed?: number; rttMs?: number };
}
