// API keys look like gp_<keyId>_<secret>: the id finds the record, the secret is only ever stored hashed.
// Hashing is SHA-256: the secret has >= 128 bits of entropy, so a slow KDF buys nothing here.
import { createHash, timingSafeEqual } from 'node:crypto';

const KEY_RE = /^gp_([a-z0-9]{10,32})_([A-Za-z0-9_-]{22,64})$/;

/**
 * Key ids of one-time registration tokens start with this; ordinary key ids are hex, so they never do.
 * A registration token may only register a node (functions/http/kit/router.ts).
 */
export const REGISTRATION_KEY_PREFIX = 'reg';
export const isRegistrationKeyId = (keyId: string) => keyId.startsWith(REGISTRATION_KEY_PREFIX);

export function formatApiKey(keyId: string, secret: string): string {
  return `gp_${keyId}_${secret}`;
}

export function parseApiKey(raw: string): { keyId: string; secret: string } | undefined {
  const m = KEY_RE.exec(raw.trim());
  return m ? { keyId: m[1], secret: m[2] } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
