// What the agent's routes answer: the agent protocol's own response schemas (the agent parses with them).
import * as z from 'zod';
import { HeartbeatResponseSchema, SessionResponseSchema, StartResponseSchema } from '../../domain/agent-protocol';
import { JOB_STATUSES, REASONS } from '../../domain/model';

const Uploads = z.array(z.object({ path: z.string(), url: z.string() }));

export const AGENT_RESPONSES = {
  'POST /v1/agent/session': SessionResponseSchema,
  'POST /v1/agent/heartbeat': HeartbeatResponseSchema,
  'POST /v1/agent/jobs/{id}/start': StartResponseSchema,
  'POST /v1/agent/jobs/{id}/logs': z.object({ accepted: z.number().int() }),
  'POST /v1/agent/jobs/{id}/finish': z.object({ status: z.enum(JOB_STATUSES), reason: z.enum(REASONS).nullable() }),
  'POST /v1/agent/jobs/{id}/outputs': z.object({ uploads: Uploads.describe('PUT each file here') }),
  'POST /v1/agent/jobs/{id}/checkpoint': z.object({
    uploads: z.array(z.object({ sha256: z.string(), url: z.string() })).describe('contents the store lacks: PUT each, then commit'),
    committed: z.boolean(),
  }),
} as const;
