// What the public routes answer: JSON for health and the API description; the rest are files.
import * as z from 'zod';

/** a text body: the schema documents its media type (see MEDIA_TYPES) */
export const TextSchema = z.string();

export const PUBLIC_RESPONSES = {
  'GET /v1/health': z.object({ ok: z.literal(true) }),
  'GET /v1/openapi.json': z.object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }).loose(), paths: z.record(z.string(), z.unknown()) }).loose(),
  'GET /install.sh': TextSchema,
  'GET /agent/gpupool-agent.mjs': TextSchema,
  'GET /agent/gpupool-agent.mjs.sha256': TextSchema,
  'GET /cli/gpupool.mjs': TextSchema,
  'GET /checker/{file}': TextSchema,
  'GET /console': TextSchema,
} as const;

/** the media type of each non-JSON success */
export const MEDIA_TYPES: Record<string, string> = {
  'GET /install.sh': 'text/x-shellscript',
  'GET /agent/gpupool-agent.mjs': 'text/javascript',
  'GET /agent/gpupool-agent.mjs.sha256': 'text/plain',
  'GET /cli/gpupool.mjs': 'text/javascript',
  // install.sh is text/x-shellscript, gpupool-checker.mjs text/javascript, its .sha256 text/plain
  'GET /checker/{file}': 'text/plain',
  'GET /console': 'text/html',
};
