// The contract between the control plane and gpupool-agent: HTTP bodies under /v1/agent and the
// messages carried on each node's SQS queue. Both sides import these schemas, so they cannot drift.
import * as z from 'zod';
import { MAX_PUBLIC_KEY_LENGTH, parsePublicKey } from './checker/signing';
import { IMAGE_REFERENCE_RULE, isImageReference } from './image-ref';
import { MAX_IMAGE_REF_LENGTH, MAX_NODE_IMAGES } from './matcher/image-cache';
import { StartFilesSchema } from './files/protocol';

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);
/** a node's Ed25519 public key, base64 SPKI DER or PEM: probe answers are signed with its private half */
const publicKey = z.string().max(MAX_PUBLIC_KEY_LENGTH).refine((k) => parsePublicKey(k) !== undefined, 'an Ed25519 public key, base64 SPKI DER or PEM');
const probeUrl = z.string().url().max(512);

export const GpuDeviceSchema = z.strictObject({
  index: z.number().int().min(0).max(255),
  uuid: z.string().min(1).max(128),
  model: z.string().min(1).max(64),
  vramGb: z.number().int().min(1).max(4096),
  name: z.string().max(128).optional(),
  computeCap: z.string().max(16).optional(),
});

/** Everything a node needs to run one attempt; sent in a dispatch message. */
export const AttemptSpecSchema = z.strictObject({
  image: z.string().max(512).optional(),
  command: z.array(z.string().max(8192)).max(256),
  env: z.record(z.string(), z.string()),
  gpus: z.number().int().min(0).max(64),
  maxDurationSeconds: z.number().int().min(1),
  /** a gang's rank: the agent hands these to the job as GPUPOOL_RANK, _WORLD_SIZE, _PEERS, _MASTER_ADDR/_PORT */
  gang: z
    .strictObject({
      rank: z.number().int().min(0),
      worldSize: z.number().int().min(2),
      /** host:port of every rank, by rank ([v6]:port for IPv6) */
      peers: z.array(z.string().max(300)).min(2),
      masterAddr: z.string().max(256),
      masterPort: z.number().int().min(1).max(65535),
    })
    .optional(),
  /**
   * a service replica (docs/services.md): the process gets PORT, never ends by maxDurationSeconds (that is
   * its billing period), the agent probes `readinessPath` and reports it in heartbeats, and the node's
   * ingress (its probe server, /s/<serviceId>/…) forwards routed requests to it
   */
  service: z
    .strictObject({
      id,
      port: z.number().int().min(1).max(65535),
      readinessPath: z.string().min(1).max(512).startsWith('/'),
    })
    .optional(),
});
export type AttemptSpec = z.infer<typeof AttemptSpecSchema>;

export const DispatchMessageSchema = z.strictObject({
  type: z.literal('dispatch'),
  jobId: id,
  attemptId: id,
  spec: AttemptSpecSchema,
});
export const CancelMessageSchema = z.strictObject({
  type: z.literal('cancel'),
  jobId: id,
  attemptId: id,
});
/** The node was taken out of service (written off, deregistered, quarantined): kill the named attempts,
 * or all it runs when none are named, at once; their jobs are already being placed elsewhere. */
export const StopMessageSchema = z.strictObject({
  type: z.literal('stop'),
  reason: z.string().max(256),
  attemptIds: z.array(id).max(256).optional(),
});
export const QueueMessageSchema = z.discriminatedUnion('type', [DispatchMessageSchema, CancelMessageSchema, StopMessageSchema]);
export type DispatchMessage = z.infer<typeof DispatchMessageSchema>;
export type CancelMessage = z.infer<typeof CancelMessageSchema>;
export type StopMessage = z.infer<typeof StopMessageSchema>;
export type QueueMessage = z.infer<typeof QueueMessageSchema>;

export const SessionRequestSchema = z.strictObject({
  /** attempts the agent still runs after a restart: the answer says which are still live */
  running: z.array(id).max(256).default([]),
  agentVersion: z.string().max(64).optional(),
  /** random per agent process; a new one means the agent restarted and lost what it did not report */
  bootId: z.string().max(64).optional(),
  /** where the agent's probe server listens now (it may move between restarts) */
  probeUrl: probeUrl.optional(),
  /** the node's key, for nodes registered before they had one; a registered key is never replaced */
  publicKey: publicKey.optional(),
});

export const SessionResponseSchema = z.object({
  nodeId: z.string(),
  queueUrl: z.string(),
  /** SQS endpoint to use; absent on AWS (the SDK's default endpoint applies) */
  sqsEndpoint: z.string().optional(),
  region: z.string(),
  credentials: z
    .object({ accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string().optional(), expiresAt: z.number() })
    .optional(),
  heartbeat: z.object({ busySeconds: z.number(), idleSeconds: z.number() }),
  /** attempts from `running` that are no longer live: kill them */
  stale: z.array(z.string()),
  /** seconds from now during which the control plane will not write this node off (see HeartbeatResponse) */
  leaseSeconds: z.number().optional(),
  controlPlanePublicKey: z.string().optional(),
});
export type SessionResponse = z.infer<typeof SessionResponseSchema>;

export const LogLineSchema = z.strictObject({
  seq: z.number().int().min(0),
  stream: z.enum(['stdout', 'stderr', 'system']),
  text: z.string().max(16_384),
  ts: z.number().int().min(0),
});
export type LogLine = z.infer<typeof LogLineSchema>;

/**
 * The agent's start counter: one more for every start call it makes, seeded from its clock at boot so a
 * restarted agent counts on from above the last one. A heartbeat carries the counter as it was when the
 * heartbeat listed `running`, so the control plane never takes a start it had not yet been told about
 * for an attempt the node dropped (functions/domain/job/start-ack.ts).
 */
const startSeq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const StartRequestSchema = z.strictObject({ attemptId: id, seq: startSeq.optional() });

/**
 * What an attempt needs beyond its dispatch message, given to the node that starts it and to no one else
 * (docs/data.md, Secrets): the values of the job's secret env variables and its registry login. The agent
 * holds them in memory for that attempt only.
 */
export const AttemptSecretsSchema = z.strictObject({
  env: z.record(z.string(), z.string()),
  registryAuth: z.strictObject({ server: z.string(), username: z.string(), password: z.string() }).optional(),
});
export type AttemptSecretsAnswer = z.infer<typeof AttemptSecretsSchema>;

/** The answer to a start; `z.object`, not strict: other capabilities add their own parts (files). */
export const StartResponseSchema = z.object({
  status: z.string().optional(),
  attemptId: z.string().optional(),
  /** the start moved the node to the busy heartbeat deadline (see HeartbeatResponse.leaseSeconds) */
  leaseSeconds: z.number().optional(),
  secrets: AttemptSecretsSchema.optional(),
  /** links to the inputs and the checkpoint to restore (docs/data.md) */
  files: StartFilesSchema.optional(),
});
export type StartResponse = z.infer<typeof StartResponseSchema>;

/** Typed pull failures (agent/runtime/pull.ts): the first two are the consumer's to fix, the last two the node's. */
export const PULL_FAILURES = ['IMAGE_NOT_FOUND', 'REGISTRY_UNAUTHORIZED', 'REGISTRY_UNREACHABLE', 'NO_DISK_SPACE'] as const;
export type PullFailure = (typeof PULL_FAILURES)[number];
/**
 * Where the attempt's image stands, as the node saw it: PULLING once a pull begins; PULLED when the image is
 * ready (`seconds` the pull took, absent when the node already held it; `imageDigest` what will run);
 * FAILED with the type and the registry's words. Rides on a log request (and again on finish), so it
 * costs no request of its own (domain/job/pull.ts).
 */
export const PullReportSchema = z.discriminatedUnion('phase', [
  z.strictObject({ phase: z.literal('PULLING') }),
  z.strictObject({
    phase: z.literal('PULLED'),
    seconds: z.number().min(0).max(7 * 86_400).optional(),
    imageDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional(),
  }),
  z.strictObject({ phase: z.literal('FAILED'), failure: z.enum(PULL_FAILURES), message: z.string().max(1024) }),
]);
export type PullReport = z.infer<typeof PullReportSchema>;

export const LogsRequestSchema = z.strictObject({ attemptId: id, lines: z.array(LogLineSchema).min(1).max(500), pull: PullReportSchema.optional() });
export const FinishRequestSchema = z.strictObject({
  attemptId: id,
  exitCode: z.number().int().min(-255).max(255).nullable(),
  /** how the attempt ended as the agent saw it */
  // `lost`: the node could not run or keep the attempt (restart, no free GPU): re-placed, not charged
  outcome: z.enum(['exited', 'timed_out', 'cancelled', 'error', 'lost']),
  error: z.string().max(2048).optional(),
  /** the last log lines ride along, saving a request for short jobs */
  lines: z.array(LogLineSchema).max(500).default([]),
  /** SHA-256 over the attempt's stdout lines (agent/output-digest.ts): replicated verification compares it */
  outputDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional(),
  /** the image's last state (PullReportSchema): a failed pull's type decides whose fault the end is */
  pull: PullReportSchema.optional(),
  /** with outcome `error`: an input did not check out (wrong sha256, too big, unreachable): the consumer's to fix */
  failure: z.enum(['INPUT_FAILED']).optional(),
});
export type FinishRequest = z.infer<typeof FinishRequestSchema>;

/** What a heartbeat may say about the host: bounded, so it can be stored on the node item as it is. */
const figure = (max: number) => z.number().min(0).max(max).nullable();
export const TelemetrySchema = z.strictObject({
  agentRssMb: z.number().min(0).max(1_000_000),
  gpus: z
    .array(z.strictObject({ index: z.number().int().min(0).max(255), utilPct: figure(100), memUsedMiB: figure(10_000_000), tempC: z.number().min(-100).max(300).nullable(), powerW: figure(100_000) }))
    .max(64)
    .optional(),
});

/** A list of Docker image references, each checked against docker's grammar (never a leading '-'). */
export const imageRefList = (max: number) => z.array(z.string().min(1).max(MAX_IMAGE_REF_LENGTH).refine(isImageReference, IMAGE_REFERENCE_RULE)).max(max);

export const HeartbeatRequestSchema = z.strictObject({
  running: z.array(id).max(256),
  /** the start counter when `running` was listed: a RUNNING attempt started at or below it and not listed is
   * gone from the node (its start answer was lost, its finish never came) and is ended LOST at once */
  startSeq: startSeq.optional(),
  freeGpus: z.number().int().min(0).max(64).optional(),
  draining: z.boolean().optional(),
  telemetry: TelemetrySchema.optional(),
  /** images the node holds (name:tag and name@digest), bounded; stored when the list changes; the matcher prefers such nodes */
  images: imageRefList(MAX_NODE_IMAGES).optional(),
  /** each service replica the node runs and whether its readiness probe passes now; written when it changes */
  services: z.array(z.strictObject({ attemptId: id, ready: z.boolean() })).max(256).optional(),
  /**
   * the node cannot run work until its provider fixes it (docker cannot hand out GPUs: the NVIDIA runtime is
   * missing; the engine is unreachable): the node stops taking work and shows this in its status until the
   * agent opens a new session (docs/agent-hosts.md, Node faults)
   */
  fault: z.string().min(1).max(500).optional(),
});
export const HeartbeatResponseSchema = z.object({
  /** seconds until the next heartbeat is expected */
  nextHeartbeatSeconds: z.number(),
  /** attempts the node reported that are no longer live (fenced): kill them */
  stale: z.array(z.string()),
  /** attempts the consumer cancelled: stop them */
  cancel: z.array(z.string()),
  /**
   * seconds from now during which the control plane will not declare this node lost. An agent that
   * cannot renew it in time stops its attempts itself, before they could be re-placed elsewhere, so a
   * partitioned node never runs a job at the same time as its replacement.
   */
  leaseSeconds: z.number().optional(),
  /** images the node's provider asked it to keep pulled (PATCH /v1/nodes/{id}): pull the missing ones in the background */
  warmImages: z.array(z.string()).optional(),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponseSchema>;

export const RegisterNodeSchema = z.strictObject({
  name: z.string().min(1).max(128),
  region: z.string().min(1).max(64).regex(/^[a-z0-9-]+$/),
  location: z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).optional(),
  gpus: z.array(GpuDeviceSchema).min(1).max(64),
  pricePerGpuHour: z.number().int().min(0).max(1_000_000_000),
  labels: z.record(z.string().max(64), z.string().max(256)).default({}),
  probeUrl: probeUrl.optional(),
  publicKey: publicKey.optional(),
  driverVersion: z.string().max(32).optional(),
  cudaVersion: z.string().max(32).optional(),
  /** how the agent runs jobs: `process` shares the host with other tenants' jobs (docs/scheduling.md); absent (older agents) counts as process */
  runtime: z.enum(['docker', 'process']).optional(),
});
export type RegisterNode = z.infer<typeof RegisterNodeSchema>;
