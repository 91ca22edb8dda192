// What the jobs group answers: jobs, logs, files and outputs, offers.
import * as z from 'zod';
import { Id, list, Micro, Millis, page } from './common';
import { JobSchema } from './job';

const ArrayOfJobs = z.object({ id: Id, size: z.number().int(), jobIds: z.array(Id) });
export const SubmittedSchema = z.object({
  job: JobSchema.describe('for an array: its first member'),
  array: ArrayOfJobs.optional().describe('a job array (docs/api.md, Arrays)'),
});
export const CancelledSchema = z.object({
  job: JobSchema.optional(),
  array: z.object({ id: Id, size: z.number().int(), cancelled: z.number().int() }).optional().describe('DELETE of an array id: how many members it cancelled'),
});

export const LogLineSchema = z.object({ seq: z.number().int(), attempt: z.number().int(), stream: z.enum(['stdout', 'stderr', 'system']), text: z.string(), ts: Millis });
export const LogsSchema = z.object({ items: z.array(LogLineSchema), last: z.number().int().describe('the seq to pass as `after` for the next lines') });

export const FileSchema = z.object({ id: Id, name: z.string(), size: z.number().int(), sha256: z.string(), createdAt: Millis, expiresAt: Millis });
export const CreatedFileSchema = z.object({ file: FileSchema, uploadUrl: z.string().describe('PUT the bytes here') });
export const FileDetailSchema = z.object({ file: FileSchema.extend({ uploaded: z.boolean(), downloadUrl: z.string().nullable() }) });

export const OutputsSchema = z.object({
  attemptId: Id.nullable(),
  items: z.array(z.object({ path: z.string(), size: z.number().int(), sha256: z.string(), url: z.string() })),
});

export const OfferSchema = z.object({
  gpuModel: z.string(),
  vramGb: z.number(),
  region: z.string(),
  runtime: z.enum(['docker', 'process']),
  nodes: z.number().int(),
  freeGpus: z.number().int(),
  minPricePerGpuHour: Micro,
  medianPricePerGpuHour: Micro,
  medianReputation: z.number(),
  imageCachedNodes: z.number().int().optional(),
  recentStarts: z.number().int(),
  p50SubmitToRunningMs: z.number().nullable(),
});

export const JOBS_RESPONSES = {
  'POST /v1/jobs': SubmittedSchema,
  'GET /v1/jobs': page(JobSchema),
  'GET /v1/jobs/{id}': z.object({ job: JobSchema }),
  'DELETE /v1/jobs/{id}': CancelledSchema,
  'GET /v1/jobs/{id}/logs': LogsSchema,
  'POST /v1/files': CreatedFileSchema,
  'GET /v1/files': page(FileSchema),
  'GET /v1/files/{id}': FileDetailSchema,
  'GET /v1/jobs/{id}/outputs': OutputsSchema,
  'GET /v1/offers': list(OfferSchema),
} as const;
