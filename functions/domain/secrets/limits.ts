// What a secret may be (docs/data.md, Secrets): a name like an environment variable, a value of at most
// 32 KiB (GitHub Actions allows 48 KB, RunPod 32 KB: a token, a key, a small JSON credential).
import * as z from 'zod';

export const MAX_SECRET_VALUE_CHARS = 32 * 1024;
/** secrets one account may hold: bounds the list and what one start resolves */
export const MAX_SECRETS_PER_ACCOUNT = 100;
/** distinct secrets one job may name: bounds the KMS requests of each start and the environment a node is handed (16 × 32 KiB) */
export const MAX_SECRETS_PER_JOB = 16;
/** a value shorter than this is not masked in output lines (it would turn ordinary words into ***) */
export const MIN_MASKED_LENGTH = 4;

export const SecretNameSchema = z.string().min(1).max(128).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be letters, digits and _, not starting with a digit');

export const SetSecretSchema = z.strictObject({
  name: SecretNameSchema,
  value: z.string().min(1).max(MAX_SECRET_VALUE_CHARS, `at most ${MAX_SECRET_VALUE_CHARS} characters`),
});

/** `{"secret": "<name>"}` in a job's env: the value comes from the account's secret of that name */
export const SecretRefSchema = z.strictObject({ secret: SecretNameSchema });
export type SecretRef = z.infer<typeof SecretRefSchema>;

/** a private image's registry login; the password is a secret of the account */
export const RegistryAuthSchema = z.strictObject({
  /** the registry host (and port), as in the image reference: `registry.example.com`, `127.0.0.1:5000` */
  server: z.string().min(1).max(255).regex(/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/, 'a registry host, optionally with :port'),
  username: z.string().min(1).max(255).regex(/^[^\s:]+$/, 'no spaces or colons'),
  passwordSecret: SecretNameSchema,
});
export type RegistryAuth = z.infer<typeof RegistryAuthSchema>;

/** Every secret name a job refers to (env values and the registry password), each once. */
export function secretNamesOf(job: { secretEnv?: Record<string, string>; registryAuth?: RegistryAuth }): string[] {
  return [...new Set([...Object.values(job.secretEnv ?? {}), ...(job.registryAuth ? [job.registryAuth.passwordSecret] : [])])];
}

/** The registry an image reference pulls from, as docker decides it (a first component with `.` or `:`, or `localhost`). */
export function imageRegistry(image: string): string {
  const first = image.split('/')[0];
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}
