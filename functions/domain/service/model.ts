// Services: long-running GPU endpoints kept on N replicas (docs/services.md). Pure types: no I/O.
// A replica is an ordinary job with a `service` link (functions/domain/model.ts ServiceLink): placement,
// fencing, leases, failover and metering are the job's; the service decides how many replicas it wants
// and which spec they run.
import type { JobSpec, JobStatus } from '../model';

export const SERVICE_STATUSES = ['PENDING', 'RUNNING', 'DEGRADED', 'SUSPENDED', 'DELETING', 'DELETED'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];

/** What every replica of one generation runs. */
export interface ServiceSpec {
  image?: string;
  command: string[];
  env: Record<string, string>;
  /** env names whose values come from the account's secrets (as a job's) */
  secretEnv?: Record<string, string>;
  registryAuth?: JobSpec['registryAuth'];
  port: number;
  resources: JobSpec['resources'];
  placement?: JobSpec['placement'];
  readiness: { path: string };
  maxPricePerGpuHour?: number;
}

export interface Service {
  id: string;
  accountId: string;
  name: string;
  status: ServiceStatus;
  statusReason?: string;
  spec: ServiceSpec;
  /** bumped by a PATCH that changes what replicas run (image, env, command): a rolling update */
  generation: number;
  replicas: { min: number; max: number };
  /** replicas wanted now, in [min, max]: the autoscaler moves it (0 when suspended or deleting) */
  desired: number;
  /** the autoscaler's target of requests in flight per ready replica */
  targetInflight: number;
  /** ids of the replica jobs the service still counts (live or not yet seen ended) */
  replicaIds: string[];
  /** the next replica job id's suffix */
  nextReplica: number;
  /** sha256 (hex) of the service's token; the token itself is shown once, at create */
  tokenSha256: string;
  /** requests in flight per routing tier instance, as each last wrote it (docs/services.md, Scaling) */
  load?: Record<string, { inflight: number; at: number }>;
  /** when desired last changed by scaling (cool-down) */
  scaledAt?: number;
  /** consecutive replicas that ended on their own (exit, failed start) without becoming ready: crash-loop backoff */
  failures?: number;
  /** after a failure, no new replica is created before this (crash-loop backoff, doubling per failure) */
  backoffUntil?: number;
  createdAt: number;
  updatedAt: number;
  version: number;
}

/** A replica as GET /v1/services/{id} shows it. */
export interface ReplicaView {
  id: string;
  nodeId: string | null;
  status: JobStatus;
  ready: boolean;
  endpoint: string | null;
  generation: number;
}
