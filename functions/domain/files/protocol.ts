// What the control plane and the agent say to each other about files (agent side: agent/files/). Inputs
// and the checkpoint to restore ride on the start answer; output and checkpoint uploads are granted on
// request, per key, for the attempt's own prefix only.
import * as z from 'zod';
import { MAX_CHECKPOINT_FILES, MAX_FILE_BYTES, MAX_OUTPUT_FILES } from './limits';
import { isSafeRelativePath, SAFE_PATH_RULE } from './paths';

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const path = z.string().refine(isSafeRelativePath, SAFE_PATH_RULE);
const url = z.string().url().max(8192);
const size = z.number().int().min(0).max(MAX_FILE_BYTES);

/** a file the agent fetches and checks before the command starts */
export const DownloadSchema = z.object({
  path,
  url,
  size: size.optional(),
  sha256: sha256.optional(),
  /** a consumer's own URL, not a link of the control plane's: the node checks where it connects (agent/files/input-guard.ts) */
  external: z.boolean().optional(),
});
export type Download = z.infer<typeof DownloadSchema>;

/** the `files` part of the start answer */
export const StartFilesSchema = z.object({
  inputs: z.array(DownloadSchema),
  /** bytes all inputs together may take */
  maxInputBytes: z.number().int().min(0),
  checkpoint: z
    .object({
      intervalSeconds: z.number().int().min(1),
      /** the last complete checkpoint of the job, to place in the checkpoint dir before the command starts */
      restore: z.array(DownloadSchema.extend({ size, sha256 })),
      /** the checkpoint restored (its sequence number): the next one counts on from it */
      restoredSeq: z.number().int().min(0).optional(),
    })
    .optional(),
});
export type StartFiles = z.infer<typeof StartFilesSchema>;

export const DeclaredFileSchema = z.strictObject({ path, size, sha256 });
export type DeclaredFile = z.infer<typeof DeclaredFileSchema>;

/** POST /v1/agent/jobs/{id}/outputs: the files the attempt left in its outputs dir */
export const OutputsRequestSchema = z.strictObject({ attemptId: id, files: z.array(DeclaredFileSchema).min(1).max(MAX_OUTPUT_FILES) });
export const OutputsResponseSchema = z.object({ uploads: z.array(z.object({ path, url })) });

/**
 * POST /v1/agent/jobs/{id}/checkpoint, twice per checkpoint: without `commit` the answer grants uploads
 * of the contents the bucket lacks; with `commit` the control plane checks every content is there and
 * writes the manifest, which makes the checkpoint complete.
 */
export const CheckpointRequestSchema = z.strictObject({
  attemptId: id,
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  files: z.array(DeclaredFileSchema).max(MAX_CHECKPOINT_FILES),
  commit: z.boolean().default(false),
});
export const CheckpointResponseSchema = z.object({
  uploads: z.array(z.object({ sha256, url })),
  committed: z.boolean(),
});
