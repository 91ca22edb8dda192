// The control plane's signing key (the checker's settings themselves: domain/checker/settings.ts). On AWS
// the key comes from the stack's generated secret (CHECKER_SIGNING_SECRET_ARN), read once per process; the
// local stack hands a random secret in directly. The Ed25519 key pair is derived from the secret (domain/checker/signing.ts).
import { createHash } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CheckerSettings } from '../domain/checker/settings';
import { keyPairFromSecret, type KeyPair } from '../domain/checker/signing';

// kept here for their importers; functions/settings reads them from the environment
export { DEFAULT_CHECKER, type CheckerSettings } from '../domain/checker/settings';

const loaded = new Map<string, Promise<KeyPair>>();

/**
 * The secret the network's epoch seeds are MACs under (domain/checker/assignments.ts epochSeed): derived
 * from the control plane's private key, so only the control plane can compute an epoch's assignments.
 */
export async function assignmentSecret(s: Pick<CheckerSettings, 'signingSecret' | 'signingSecretArn'>): Promise<Buffer | undefined> {
  const key = await controlPlaneKey(s);
  if (!key) return undefined;
  return createHash('sha256').update('gpupool-assignment-secret-v1\n').update(key.privateKey.export({ format: 'der', type: 'pkcs8' })).digest();
}

/** The control plane's signing key pair, or undefined where none is configured (probing is then off). */
export function controlPlaneKey(s: Pick<CheckerSettings, 'signingSecret' | 'signingSecretArn'>): Promise<KeyPair | undefined> {
  if (s.signingSecret) {
    const secret = s.signingSecret;
    if (!loaded.has(`v:${secret}`)) loaded.set(`v:${secret}`, Promise.resolve(keyPairFromSecret(secret)));
    return loaded.get(`v:${secret}`)!;
  }
  const arn = s.signingSecretArn;
  if (!arn) return Promise.resolve(undefined);
  let p = loaded.get(`arn:${arn}`);
  if (!p) {
    p = new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn })).then((r) => keyPairFromSecret(r.SecretString ?? ''));
    // a failed read is tried again on the next call, not cached
    p.catch(() => loaded.delete(`arn:${arn}`));
    loaded.set(`arn:${arn}`, p);
  }
  return p;
}
