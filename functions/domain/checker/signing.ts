// Ed25519 signatures over canonical JSON, both ways: the checker signs each probe with the control
// plane's key, the agent signs its answer with the node's key (registered with the node). Each message
// kind is signed under its own context prefix, so a signature made for one kind can never be replayed as
// another (a probe signature is not an answer signature). Pure: node:crypto computes, nothing is read.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

// 'route': the routing tier's pass for one service's requests to one node's ingress (docs/services.md)
// 'report': a third-party checker's report on one node for one epoch (docs/checkers.md, The checker network)
export type SignedKind = 'probe' | 'answer' | 'route' | 'report';
const CONTEXT: Record<SignedKind, string> = {
  probe: 'gpupool-probe-v1\n',
  answer: 'gpupool-probe-answer-v1\n',
  route: 'gpupool-route-v1\n',
  report: 'gpupool-checker-report-v1\n',
};

/**
 * JSON with object keys sorted at every depth and no whitespace: the same value always gives the same
 * bytes on both sides. Only plain data is allowed (strings, finite numbers, booleans, null, arrays,
 * objects); `undefined` members are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.keys(value as object)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
}

const message = (kind: SignedKind, payload: unknown) => Buffer.from(CONTEXT[kind] + canonicalJson(payload), 'utf8');

/** base64 Ed25519 signature of `payload` as a message of `kind`. */
export function signPayload(privateKey: KeyObject, kind: SignedKind, payload: unknown): string {
  return sign(null, message(kind, payload), privateKey).toString('base64');
}

/** Whether `signature` (base64) is `publicKey`'s signature of `payload` as `kind`; never throws. */
export function verifyPayload(publicKey: KeyObject, kind: SignedKind, payload: unknown, signature: unknown): boolean {
  if (typeof signature !== 'string' || signature.length === 0 || signature.length > 200) return false;
  try {
    const sig = Buffer.from(signature, 'base64');
    return sig.length === 64 && verify(null, message(kind, payload), publicKey, sig);
  } catch {
    return false;
  }
}

/** Longest public key text accepted (a PEM Ed25519 SPKI key is 113 characters; base64 DER 60). */
export const MAX_PUBLIC_KEY_LENGTH = 256;

/** An Ed25519 public key from base64 SPKI DER or PEM; undefined for anything else. */
export function parsePublicKey(text: string): KeyObject | undefined {
  if (typeof text !== 'string' || text.length > MAX_PUBLIC_KEY_LENGTH) return undefined;
  try {
    const trimmed = text.trim();
    const key = trimmed.startsWith('-----BEGIN PUBLIC KEY-----')
      ? createPublicKey({ key: trimmed, format: 'pem' })
      : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** The wire form of a public key: base64 of its SPKI DER encoding. */
export const publicKeyText = (key: KeyObject): string => key.export({ format: 'der', type: 'spki' }).toString('base64');

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410): a fixed 16-byte header, then the seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** base64 SPKI DER */
  publicKeyText: string;
}

/**
 * The control plane's key pair from a secret string (the stack's generated secret, or the local stack's
 * random seed): the Ed25519 seed is SHA-256 of the secret, so any secret of enough entropy works.
 */
export function keyPairFromSecret(secret: string): KeyPair {
  if (secret.length < 32) throw new Error('the signing secret must be at least 32 characters');
  const seed = createHash('sha256').update(`gpupool-control-plane-ed25519\n${secret}`).digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyText: publicKeyText(publicKey) };
}
