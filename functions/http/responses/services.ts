// What the services group answers (functions/domain/service/view.ts serviceView): never the token's hash.
import * as z from 'zod';
import { SERVICE_STATUSES } from '../../domain/service/model';
import { JOB_STATUSES } from '../../domain/model';
import { Id, Micro, Millis } from './common';
import { EnvSchema, PlacementSchema, RegistryAuthSchema, ResourcesSchema } from './job';

export const ReplicaSchema = z.object({ id: Id, nodeId: Id.nullable(), status: z.enum(JOB_STATUSES), ready: z.boolean(), endpoint: z.string().nullable(), generation: z.number().int() });

export const ServiceSchema = z.object({
  id: Id,
  name: z.string(),
  status: z.enum(SERVICE_STATUSES),
  statusReason: z.string().nullable(),
  url: z.string().nullable().describe('where the service takes requests (with its token)'),
  replicas: z.array(ReplicaSchema).optional().describe('on a single service only'),
  replicasWanted: z.object({ min: z.number().int(), max: z.number().int(), desired: z.number().int() }),
  targetInflight: z.number(),
  generation: z.number().int(),
  spec: z.object({
    image: z.string().optional(),
    command: z.array(z.string()),
    env: EnvSchema,
    registryAuth: RegistryAuthSchema.optional(),
    port: z.number().int(),
    resources: ResourcesSchema,
    placement: PlacementSchema.optional(),
    readiness: z.object({ path: z.string() }),
    maxPricePerGpuHour: Micro.optional(),
  }),
  createdAt: Millis,
  updatedAt: Millis,
});

export const SERVICES_RESPONSES = {
  'POST /v1/services': z.object({
    service: ServiceSchema,
    token: z.string().nullable().describe('shown once; null in an idempotent replay'),
    secretShownOnce: z.literal(true).optional(),
  }),
  // this list leaves nextCursor out on its last page (the other lists say null)
  'GET /v1/services': z.object({ items: z.array(ServiceSchema), nextCursor: z.string().optional() }),
  'GET /v1/services/{id}': z.object({ service: ServiceSchema }),
  'PATCH /v1/services/{id}': z.object({ service: ServiceSchema }),
  'DELETE /v1/services/{id}': z.object({ service: ServiceSchema }),
} as const;
