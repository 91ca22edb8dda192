// Request bodies and query strings of the public API, as zod schemas. Handlers validate with these and
// the OpenAPI document is generated from them: one definition, no drift. Unknown fields are rejected.
import * as z from 'zod';
import { MAX_GANG_NODES } from './job/gang';
import { IMAGE_REFERENCE_RULE, isImageReference } from './image-ref';
import { imageRefList } from './agent-protocol';
import { MAX_WARM_IMAGES } from './matcher/image-cache';
import { CheckpointSchema, InputsSchema } from './files/schemas';
import { imageRegistry, MAX_SECRETS_PER_JOB, RegistryAuthSchema, SecretRefSchema } from './secrets/limits';
import { MAX_AFTER } from './job/dependencies';

/** jobs one array request may create (each counts against the account's queue limit) */
export const MAX_ARRAY_SIZE = 1000;

export const IdSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);

export const CreateAccountSchema = z.strictObject({
  name: z.string().min(1).max(128),
  role: z.enum(['admin', 'consumer', 'provider']),
});

/** at most 10 million credits per call: sums of many stay exact in JavaScript numbers */
const CreditAmount = z.number().int().min(1).max(10_000_000_000_000);

export const MintSchema = z.strictObject({
  amount: CreditAmount,
  memo: z.string().max(256).optional(),
});

export const StakeSchema = z.strictObject({ amount: CreditAmount });

// syntax only; which schemes and addresses are allowed depends on the deployment (domain/webhook/target.ts)
const WebhookUrlSchema = z
  .string()
  .min(1)
  .max(2048)
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL');

const envName = z.string().min(1).max(128).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name');

/** The parts a job submit and a service create share (domain/service/schemas.ts): one rule each. */
export const ImageRefSchema = z.string().min(1).max(512).refine(isImageReference, IMAGE_REFERENCE_RULE);
export const CommandSchema = z.array(z.string().max(8192)).min(1).max(256);
/** a value is a string, or `{"secret": "<name>"}`: the account's secret of that name, given to the attempt only (docs/data.md, Secrets) */
export const EnvSchema = z
  .record(envName, z.union([z.string().max(32_768), SecretRefSchema]))
  .refine((e) => Object.keys(e).length <= 128, 'at most 128 variables')
  .refine((e) => !Object.keys(e).some((k) => k.startsWith('GPUPOOL_')), 'GPUPOOL_* variables are reserved');
export const ResourcesSchema = z.strictObject({
  gpus: z.number().int().min(1).max(64),
  gpuModels: z.array(z.string().min(1).max(32).regex(/^[A-Za-z0-9-]+$/)).min(1).max(16).optional(),
  minVramGb: z.number().int().min(1).max(4096).optional(),
  /** e.g. "8.0" (Ampere) or "9.0" (Hopper) */
  minComputeCapability: z.string().regex(/^\d{1,2}\.\d$/, 'like 8.0').optional(),
  /** e.g. "12.2": the node's CUDA driver version must be at least this */
  minCudaVersion: z.string().regex(/^\d{1,2}\.\d{1,2}$/, 'like 12.2').optional(),
  /** > 1: a gang, placed on that many distinct nodes at once (docs/scheduling.md); bounded by one DynamoDB transaction */
  nodes: z.number().int().min(1).max(MAX_GANG_NODES).default(1),
});
export const PlacementSchema = z.strictObject({
  regions: z.array(z.string().min(1).max(64).regex(/^[a-z0-9-]+$/)).min(1).max(32).optional(),
  near: z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).optional(),
  /** the node must carry every one of these labels with these values */
  labels: z.record(z.string().min(1).max(64), z.string().max(256)).refine((l) => Object.keys(l).length <= 16, 'at most 16 labels').optional(),
  /** reputation floor in [0,1] */
  minReputation: z.number().min(0).max(1).optional(),
});
export const MaxPriceSchema = z.number().int().min(0).max(1_000_000_000);

type EnvIn = Record<string, string | { secret: string }>;
/** at most MAX_SECRETS_PER_JOB distinct secrets named by env values and the registry login */
export const fewSecrets = (j: { env: EnvIn; registryAuth?: { passwordSecret: string } }) =>
  new Set([...Object.values(j.env).flatMap((v) => (typeof v === 'string' ? [] : [v.secret])), ...(j.registryAuth ? [j.registryAuth.passwordSecret] : [])]).size <= MAX_SECRETS_PER_JOB;
export const FEW_SECRETS = { message: `a job may name at most ${MAX_SECRETS_PER_JOB} distinct secrets`, path: ['env'] };
/** a login is for the image's own registry: sent nowhere else */
export const loginForImage = (j: { image?: string; registryAuth?: { server: string } }) => !j.registryAuth || (j.image !== undefined && imageRegistry(j.image) === j.registryAuth.server);
export const LOGIN_FOR_IMAGE = { message: "registryAuth.server must be the image's registry", path: ['registryAuth', 'server'] };

/**
 * Stored apart: `env` keeps plain values only (it is what a dispatch message carries), `secretEnv` the
 * names of the secrets that fill the rest at the attempt's start (usecases/secrets.ts).
 */
export function splitEnv(env: EnvIn): { env: Record<string, string>; secretEnv?: Record<string, string> } {
  const plain: Record<string, string> = {};
  const secretEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === 'string') plain[k] = v;
    else secretEnv[k] = v.secret;
  }
  return { env: plain, ...(Object.keys(secretEnv).length > 0 ? { secretEnv } : {}) };
}

export const SubmitJobSchema = z
  .strictObject({
    name: z.string().min(1).max(128).optional(),
    image: ImageRefSchema.optional(),
    command: CommandSchema,
    env: EnvSchema.default({}),
    resources: ResourcesSchema,
    placement: PlacementSchema.optional(),
    maxPricePerGpuHour: MaxPriceSchema.optional(),
    maxDurationSeconds: z.number().int().min(1).max(30 * 24 * 3600).default(3600),
    maxAttempts: z.number().int().min(1).max(10).default(3),
    priority: z.number().int().min(-100).max(100).default(0),
    retry: z
      .strictObject({
        onExitCodes: z.array(z.number().int().min(1).max(255)).min(1).max(32),
        max: z.number().int().min(1).max(10),
        backoffSeconds: z.number().int().min(0).max(3600).default(10),
      })
      .optional(),
    queueTtlSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(24 * 3600),
    /** POSTed the final job when it ends (docs/webhooks.md); https and public addresses in the cloud, checked on submit */
    webhook: z.strictObject({ url: WebhookUrlSchema }).optional(),
    /** replicated verification: run on this many distinct nodes (of distinct providers where possible), compare outputs; each replica is billed */
    verification: z.strictObject({ replicas: z.number().int().min(2).max(5) }).optional(),
    /** a job array: this many jobs from one request, each told its index (GPUPOOL_ARRAY_INDEX); docs/api.md, Arrays */
    array: z.strictObject({ size: z.number().int().min(1).max(MAX_ARRAY_SIZE) }).optional(),
    /** held until these jobs of the caller's SUCCEEDED; failed (DEPENDENCY_FAILED) if one ends otherwise (docs/scheduling.md, Dependencies) */
    after: z
      .array(IdSchema)
      .min(1)
      .max(MAX_AFTER)
      .refine((ids) => new Set(ids).size === ids.length, 'job ids must be distinct')
      .optional(),
    /** uploaded files and URLs placed under $GPUPOOL_INPUT_DIR before the command starts (docs/data.md, Inputs) */
    inputs: InputsSchema.optional(),
    /** $GPUPOOL_CHECKPOINT_DIR saved every intervalSeconds and restored into the job's next attempt (docs/data.md, Checkpoints) */
    checkpoint: CheckpointSchema.optional(),
    /** the login for a private image: `passwordSecret` names the account's secret (docs/data.md, Private images) */
    registryAuth: RegistryAuthSchema.optional(),
  })
  .refine(fewSecrets, FEW_SECRETS)
  .refine(loginForImage, LOGIN_FOR_IMAGE)
  .refine((j) => !(j.array && j.verification), {
    message: 'replicated verification of job arrays is not supported',
    path: ['array'],
  })
  .refine((j) => !(j.after && j.verification), {
    message: 'replicated verification of dependent jobs is not supported',
    path: ['after'],
  })
  // replicas are compared output for output; a gang's ranks print different things
  .refine((j) => !j.verification || j.resources.nodes === 1, {
    message: 'replicated verification of multi-node (gang) jobs is not supported',
    path: ['verification'],
  })
  .transform(({ env, ...j }) => ({ ...j, ...splitEnv(env) }));
export type SubmitJob = z.infer<typeof SubmitJobSchema>;

export const PatchNodeSchema = z
  .strictObject({
    pricePerGpuHour: z.number().int().min(0).max(1_000_000_000).optional(),
    labels: z.record(z.string().max(64), z.string().max(256)).optional(),
    drain: z.boolean().optional(),
    /** images the node keeps pulled (its agent pulls the missing ones in the background); [] clears the list */
    warmImages: imageRefList(MAX_WARM_IMAGES).optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'nothing to change');

export const ListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(1024).optional(),
});

/** GET /v1/jobs: with `arrayId`, the jobs of that array in index order (the cursor is then the next index) */
export const ListJobsQuerySchema = ListQuerySchema.extend({ arrayId: IdSchema.optional() });

export const LogsQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).default(-1),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});
