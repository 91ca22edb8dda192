// Request bodies of /v1/services (docs/services.md), built from the job submit's parts (domain/schemas.ts)
// so an image reference, an env name, a secret reference or a GPUPOOL_* variable is judged the same way.
import * as z from 'zod';
import { CommandSchema, EnvSchema, FEW_SECRETS, fewSecrets, ImageRefSchema, LOGIN_FOR_IMAGE, loginForImage, MaxPriceSchema, PlacementSchema, ResourcesSchema, splitEnv } from '../schemas';
import { RegistryAuthSchema } from '../secrets/limits';

/** replicas one service may ask for: each is a placement on its own node (and a job in the account's limits) */
export const MAX_SERVICE_REPLICAS = 16;
/** services one account may hold not yet DELETED: each costs the reconciler's tick a pass */
export const MAX_SERVICES_PER_ACCOUNT = 32;

export const ServiceNameSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-", starting with a letter or digit');

const ReplicasSchema = z
  .strictObject({
    min: z.number().int().min(0).max(MAX_SERVICE_REPLICAS),
    max: z.number().int().min(1).max(MAX_SERVICE_REPLICAS),
  })
  .refine((r) => r.min <= r.max, { message: 'min must not exceed max', path: ['min'] });

/** a path the agent GETs on the replica: absolute, no spaces, no control characters */
const ReadinessPathSchema = z.string().min(1).max(512).regex(/^\/[\x21-\x7e]*$/, 'an absolute path like /health');

/** the autoscaler's target of requests in flight per replica */
const TargetInflightSchema = z.number().int().min(1).max(10_000);

export const CreateServiceSchema = z
  .strictObject({
    name: ServiceNameSchema,
    image: ImageRefSchema.optional(),
    command: CommandSchema,
    env: EnvSchema.default({}),
    /** where the process listens (also given to it as PORT; in a container, the port inside it) */
    port: z.number().int().min(1).max(65535),
    replicas: ReplicasSchema,
    /** as a job's; a replica runs on one node */
    resources: ResourcesSchema.refine((r) => r.nodes === 1, { message: 'a service replica runs on one node', path: ['nodes'] }),
    placement: PlacementSchema.optional(),
    readiness: z.strictObject({ path: ReadinessPathSchema }).default({ path: '/' }),
    maxPricePerGpuHour: MaxPriceSchema.optional(),
    registryAuth: RegistryAuthSchema.optional(),
    targetInflight: TargetInflightSchema.default(4),
  })
  .refine(fewSecrets, FEW_SECRETS)
  .refine(loginForImage, LOGIN_FOR_IMAGE)
  .transform(({ env, ...s }) => ({ ...s, ...splitEnv(env) }));
export type CreateService = z.infer<typeof CreateServiceSchema>;

/**
 * A change: replicas and targetInflight take effect at once; image, command or env start a rolling
 * update (a new generation). env replaces the whole environment, as at create.
 */
export const PatchServiceSchema = z
  .strictObject({
    replicas: ReplicasSchema.optional(),
    image: ImageRefSchema.optional(),
    command: CommandSchema.optional(),
    env: EnvSchema.optional(),
    targetInflight: TargetInflightSchema.optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'nothing to change')
  .refine((p) => !p.env || fewSecrets({ env: p.env }), FEW_SECRETS)
  .transform(({ env, ...p }) => ({ ...p, ...(env ? { env: splitEnv(env) } : {}) }));
export type PatchService = z.infer<typeof PatchServiceSchema>;
