// The parts of the API's answers the console reads (docs/api.md). Fields a later server may add are
// optional here, so an older or newer control plane still renders.

export type Role = 'admin' | 'consumer' | 'provider';

export interface Balance {
  accountId: string;
  role: Role;
  available: number;
  held: number;
  staked: number;
  symbol?: string;
}

export interface Attempt {
  id: string;
  nodeId: string;
  status: string;
  reason?: string | null;
  createdAt?: number;
  startedAt?: number | null;
  finishedAt?: number | null;
  exitCode?: number | null;
}

export interface Job {
  id: string;
  name?: string;
  status: string;
  reason: string | null;
  pendingReason: string | null;
  nodeId: string | null;
  command: string[];
  image?: string;
  resources: { gpus: number; gpuModels?: string[] };
  attempts: Attempt[];
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  cost: { charged: number; gpuSeconds: number };
  cancelRequestedAt?: number;
  /** the jobs it waits for (`after`) */
  after?: string[];
  /** a waiting job's place (GET /v1/jobs/{id} only; docs/scheduling.md, Queue position) */
  queue?: { position: number | null; ahead: number | null; estimatedStartAt: number | null };
}

export interface LogLine {
  seq: number;
  attempt: number;
  stream: string;
  text: string;
  ts: number;
}

export interface PoolNode {
  id: string;
  providerId: string;
  name: string;
  status: string;
  statusReason?: string;
  region: string;
  location?: { lat: number; lon: number };
  gpuModel: string;
  vramGb: number;
  totalGpus: number;
  freeGpus: number;
  pricePerGpuHour: number;
  reputation: number;
  lastSeenAt?: number;
  createdAt: number;
  /** micro-credits its provider earned with it (settlements after the fee; docs/ledger.md) */
  earned?: number;
}

export interface ScoreRow {
  at: number;
  kind: string;
  ok: boolean;
  rttMs?: number;
}

export interface Scores {
  nodeId: string;
  status: string;
  reputation: number;
  items: ScoreRow[];
  uptime: { h1: number | null; h24: number | null; d7: number | null };
  rttMs: { p50: number | null; p95: number | null };
  pending?: { reward: number; penalty: number };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const FINAL_JOB_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

export interface ServiceReplica {
  id: string;
  nodeId: string | null;
  status: string;
  ready: boolean;
  endpoint: string | null;
  generation: number;
}

export interface Service {
  id: string;
  name: string;
  status: string;
  statusReason?: string | null;
  url: string;
  generation: number;
  replicas: ServiceReplica[];
  replicasWanted?: { min: number; max: number; desired: number };
  createdAt: number;
}
