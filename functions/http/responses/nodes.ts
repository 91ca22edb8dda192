// What the nodes group answers: a node as its provider (or an admin) sees it, its scores, burst instances.
import * as z from 'zod';
import { NODE_STATUSES } from '../../domain/model';
import { REMOVAL_STEPS } from '../../domain/node/removal-record';
import { BURST_STATES } from '../../domain/burst/model';
import { Id, Labels, Micro, Millis, page } from './common';

const GpuSchema = z.object({ index: z.number().int(), uuid: z.string(), model: z.string(), vramGb: z.number(), name: z.string().optional(), computeCap: z.string().optional() });
const ProbeStateSchema = z.object({
  consecutiveFailures: z.number().int(),
  consecutiveSuccesses: z.number().int(),
  lastAt: Millis,
  epoch: z.number().int().optional(),
  epochOk: z.number().int().optional(),
  epochFailed: z.number().int().optional(),
  rttMs: z.number().optional(),
});

export const NodeSchema = z.object({
  id: Id,
  providerId: Id,
  name: z.string(),
  status: z.enum(NODE_STATUSES),
  statusReason: z.string().optional(),
  region: z.string(),
  location: z.object({ lat: z.number(), lon: z.number() }).optional(),
  gpus: z.array(GpuSchema),
  gpuModel: z.string(),
  vramGb: z.number(),
  totalGpus: z.number().int(),
  freeGpus: z.number().int(),
  pricePerGpuHour: Micro,
  labels: Labels,
  reputation: z.number(),
  queueUrl: z.string().optional().describe("the node's own queue: shown to its provider and admins only"),
  probeUrl: z.string().optional(),
  driverVersion: z.string().optional(),
  cudaVersion: z.string().optional(),
  runtime: z.enum(['docker', 'process']).optional(),
  createdAt: Millis,
  lastSeenAt: Millis.optional(),
  heartbeatSeconds: z.number().optional(),
  agentBootId: z.string().optional(),
  telemetry: z.unknown().optional().describe("the agent's last telemetry, as it sent it"),
  images: z.array(z.string()).optional(),
  warmImages: z.array(z.string()).optional(),
  earned: Micro.optional(),
  stakeLocked: Micro.optional(),
  removal: z
    .object({
      reason: z.enum(['deregistered', 'quarantined', 'lost']),
      at: Millis,
      pending: z.array(z.enum(REMOVAL_STEPS)),
      slashKey: z.string().optional(),
      evidence: z.string().optional(),
      evidenceAt: Millis.optional(),
      holdUntil: Millis.optional(),
    })
    .optional(),
  publicKey: z.string().optional(),
  probe: ProbeStateSchema.optional(),
});

export const RegisteredNodeSchema = z.object({
  node: NodeSchema,
  nodeKey: z.string().nullable().describe("the agent's key, shown once; null in an idempotent replay"),
  secretShownOnce: z.literal(true).optional(),
});

const ScoreSchema = z.union([
  z.object({ at: Millis, kind: z.literal('probe'), rttMs: z.number(), ok: z.boolean(), specMatch: z.boolean(), challengeOk: z.boolean(), reason: z.string(), benchFlag: z.string().optional() }),
  z.object({ at: Millis, kind: z.enum(['canary', 'verification']), jobId: Id, ok: z.boolean(), reason: z.string() }),
]);
const RewardSchema = z.object({
  nodeId: Id,
  providerId: Id,
  kind: z.enum(['epoch', 'slash']),
  at: Millis,
  epoch: z.number().int().optional(),
  okProbes: z.number().int().optional(),
  failedProbes: z.number().int().optional(),
  healthyGpuSeconds: z.number().optional(),
  reward: Micro,
  penalty: Micro,
  slashFraction: z.number().optional(),
  slashed: Micro.optional(),
  refunded: Micro.optional(),
  evidence: z.string().optional(),
  idempotencyKey: z.string(),
  posted: z.boolean(),
});
export const ScoresSchema = z.object({
  nodeId: Id,
  status: z.enum(NODE_STATUSES),
  statusReason: z.string().nullable(),
  reputation: z.number(),
  probe: ProbeStateSchema.nullable(),
  items: z.array(ScoreSchema),
  uptime: z.object({ h1: z.number().nullable(), h24: z.number().nullable(), d7: z.number().nullable() }),
  rttMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
  rewards: z.array(RewardSchema),
  pending: z.object({ reward: Micro, penalty: Micro }),
});

export const BurstInstanceSchema = z.object({
  id: Id,
  instanceType: z.string(),
  gpuModel: z.string(),
  gpus: z.number().int(),
  market: z.enum(['spot', 'on-demand']),
  hourlyCostUsd: z.number(),
  state: z.enum(BURST_STATES),
  stateReason: z.string().optional(),
  reason: z.string().describe('why it was launched'),
  jobIds: z.array(Id),
  instanceId: z.string().optional(),
  nodeId: Id.optional(),
  createdAt: Millis,
  launchedAt: Millis.optional(),
  runningAt: Millis.optional(),
  idleSince: Millis.optional(),
  endedAt: Millis.optional(),
  costSoFarUsd: z.number(),
});

const OneNode = z.object({ node: NodeSchema });
export const NODES_RESPONSES = {
  'POST /v1/nodes': RegisteredNodeSchema,
  'GET /v1/nodes': page(NodeSchema),
  'GET /v1/nodes/{id}': OneNode,
  'PATCH /v1/nodes/{id}': OneNode,
  'DELETE /v1/nodes/{id}': OneNode,
  'GET /v1/nodes/{id}/scores': ScoresSchema,
  'POST /v1/nodes/{id}/release': OneNode,
  'GET /v1/burst': page(BurstInstanceSchema),
} as const;
