// What the API shows of a job (functions/domain/job/view.ts jobView): its spec as the control plane keeps
// it, its status, attempts and cost. Shared by the jobs routes and a service's replicas.
import * as z from 'zod';
import { ATTEMPT_STATUSES, JOB_STATUSES, REASONS } from '../../domain/model';
import { VERIFICATION_STATUSES } from '../../domain/checker/replicas';
import { Id, Labels, Micro, Millis } from './common';

/** an env value, or (for a secret) the secret's name: never its value */
export const EnvSchema = z.record(z.string(), z.union([z.string(), z.object({ secret: z.string() })]));
export const ResourcesSchema = z.object({
  gpus: z.number().int(),
  gpuModels: z.array(z.string()).optional(),
  minVramGb: z.number().optional(),
  minComputeCapability: z.string().optional(),
  minCudaVersion: z.string().optional(),
  nodes: z.number().int(),
});
export const PlacementSchema = z.object({
  regions: z.array(z.string()).optional(),
  near: z.object({ lat: z.number(), lon: z.number() }).optional(),
  labels: Labels.optional(),
  minReputation: z.number().optional(),
});
export const RegistryAuthSchema = z.object({ server: z.string(), username: z.string(), passwordSecret: z.string() });

const AttemptSchema = z.object({
  id: Id,
  n: z.number().int(),
  rank: z.number().int().optional(),
  nodeId: Id,
  status: z.enum(ATTEMPT_STATUSES),
  reason: z.enum(REASONS).optional(),
  assignedAt: Millis,
  startedAt: Millis.optional(),
  startSeq: z.number().optional(),
  finishedAt: Millis.optional(),
  exitCode: z.number().int().optional(),
  pricePerGpuHour: Micro,
  hold: Micro.optional(),
  charged: Micro.optional(),
  phase: z.literal('PULLING').optional(),
  pullStartedAt: Millis.optional(),
  pullSeconds: z.number().optional(),
  imageDigest: z.string().optional(),
  message: z.string().optional(),
  ready: z.boolean().optional(),
  readyChangedAt: Millis.optional(),
  endpoint: z.string().optional(),
  segment: z.number().int().optional(),
  segmentStartedAt: Millis.optional(),
  segmentsCharged: Micro.optional(),
  segmentsReleased: Micro.optional(),
  resumedFrom: z
    .object({ attemptId: Id, attemptN: z.number().int(), seq: z.number().int(), checkpointAt: Millis, savedSeconds: z.number() })
    .optional()
    .describe('the checkpoint this attempt started from, and the run time it holds (docs/data.md, Checkpoints)'),
});

const InputSchema = z.union([
  z.object({ file: z.string(), path: z.string() }),
  z.object({ url: z.string(), path: z.string(), sha256: z.string().optional(), size: z.number().int().optional() }),
]);

export const JobSchema = z.object({
  id: Id,
  accountId: Id,
  name: z.string().optional(),
  image: z.string().optional(),
  command: z.array(z.string()),
  env: EnvSchema,
  resources: ResourcesSchema,
  placement: PlacementSchema.optional(),
  maxPricePerGpuHour: Micro.optional(),
  maxDurationSeconds: z.number().int(),
  maxAttempts: z.number().int(),
  priority: z.number().int(),
  retry: z.object({ onExitCodes: z.array(z.number().int()), max: z.number().int(), backoffSeconds: z.number().int() }).optional(),
  queueTtlSeconds: z.number().int(),
  webhook: z
    .object({
      url: z.string(),
      deliveries: z
        .array(
          z.object({
            attempt: z.number().int(),
            state: z.enum(['SENDING', 'DELIVERED', 'FAILED']),
            at: Millis,
            statusCode: z.number().int().nullable(),
            error: z.string().nullable(),
            durationMs: z.number().nullable(),
            nextRetryAt: Millis.nullable(),
          }),
        )
        .optional()
        .describe('GET /v1/jobs/{id} only'),
    })
    .optional(),
  inputs: z.array(InputSchema).optional(),
  checkpoint: z.object({ intervalSeconds: z.number().int() }).optional(),
  lastCheckpoint: z
    .object({ at: Millis, bytes: z.number().int(), files: z.number().int(), attemptId: Id, attemptN: z.number().int(), seq: z.number().int() })
    .optional(),
  registryAuth: RegistryAuthSchema.optional(),
  pinNodeId: Id.optional().describe('internal: a checker canary is pinned to its node'),
  verification: z
    .object({
      replicas: z.number().int(),
      status: z.enum(VERIFICATION_STATUSES).optional(),
      billing: z.literal('per-replica').optional(),
      tiebreaker: Id.optional(),
      siblings: z
        .array(
          z.object({
            jobId: Id,
            status: z.enum(JOB_STATUSES).nullable(),
            nodeId: Id.nullable(),
            exitCode: z.number().int().nullable(),
            outputDigest: z.string().nullable(),
          }),
        )
        .optional(),
      minority: z.array(z.string()).optional(),
      detail: z.string().optional(),
      decidedAt: Millis.optional(),
    })
    .optional()
    .describe('the replicas asked for; a single job answer adds the verdict'),
  replicaGroup: Id.optional(),
  replicaIndex: z.number().int().optional(),
  service: z.object({ id: Id, generation: z.number().int(), port: z.number().int(), readinessPath: z.string() }).optional(),
  after: z.array(Id).optional(),
  status: z.enum(JOB_STATUSES),
  reason: z.enum(REASONS).nullable(),
  pendingReason: z.string().nullable(),
  nodeId: Id.nullable(),
  liveAttemptId: Id.optional(),
  gang: z.object({ attemptIds: z.array(Id), masterPort: z.number().int(), peers: z.array(z.string()) }).optional(),
  attempts: z.array(AttemptSchema),
  createdAt: Millis,
  queuedAt: Millis,
  notBefore: Millis.optional(),
  startedAt: Millis.nullable(),
  finishedAt: Millis.nullable(),
  exitCode: z.number().int().nullable(),
  cancelRequestedAt: Millis.optional(),
  cancelReason: z.enum(REASONS).optional(),
  failedDependency: z.object({ id: Id, status: z.union([z.enum(JOB_STATUSES), z.literal('MISSING')]) }).optional(),
  cost: z.object({ held: Micro, charged: Micro, refunded: Micro, gpuSeconds: z.number() }),
  array: z.object({ id: Id, index: z.number().int(), size: z.number().int() }).optional(),
  queue: z
    .object({ position: z.number().int().nullable(), ahead: z.number().int().nullable(), estimatedStartAt: Millis.nullable() })
    .optional()
    .describe('GET /v1/jobs/{id} of a QUEUED job only'),
});
