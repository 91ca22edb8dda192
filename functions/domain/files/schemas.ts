// Request bodies of the files feature: POST /v1/files, a job's `inputs` and `checkpoint` (docs/data.md).
import * as z from 'zod';
import { MAX_FILE_BYTES, MAX_INPUTS, MIN_CHECKPOINT_INTERVAL_SECONDS } from './limits';
import { isSafeRelativePath, normalizeInputPath, pathsDisjoint, SAFE_PATH_RULE } from './paths';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex');
const fileId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);

export const CreateFileSchema = z.strictObject({
  /** shown back to the owner; not a path anywhere */
  name: z.string().min(1).max(256),
  size: z.number().int().min(0).max(MAX_FILE_BYTES),
  sha256,
});

/** where an input lands under $GPUPOOL_INPUT_DIR; a trailing slash is dropped (`data/` is `data`) */
const inputPath = z
  .string()
  .transform(normalizeInputPath)
  .refine(isSafeRelativePath, SAFE_PATH_RULE);

// syntax only; which schemes and addresses an input URL may use depends on the deployment (usecases/files.ts)
const inputUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL');

export const InputSchema = z.union([
  z.strictObject({ file: fileId, path: inputPath }),
  z.strictObject({ url: inputUrl, path: inputPath, sha256: sha256.optional(), size: z.number().int().min(0).max(MAX_FILE_BYTES).optional() }),
]);
export type JobInput = z.infer<typeof InputSchema>;

export const InputsSchema = z
  .array(InputSchema)
  .min(1)
  .max(MAX_INPUTS)
  .refine((l) => pathsDisjoint(l.map((i) => i.path)), 'input paths must be unique, and none may lie under another');

export const CheckpointSchema = z.strictObject({
  intervalSeconds: z.number().int().min(MIN_CHECKPOINT_INTERVAL_SECONDS).max(24 * 3600),
});
