// Envelope encryption of secret values (docs/data.md, Secrets). Each value is sealed with its own random
// 256-bit data key under AES-256-GCM; the data key itself is stored only wrapped by a key-encryption key:
// KMS on AWS (kms-cipher.ts), a key file under .gpupool/ on the local stack (LocalKeyCipher). The
// account and the secret's name are bound to both layers (KMS encryption context / GCM additional data),
// so a sealed value copied onto another account's or another name's item does not open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** whose secret a sealed value is: bound to its encryption */
export interface SecretContext {
  accountId: string;
  name: string;
}

/** the data key, in the clear (used once, then dropped) and wrapped (stored) */
export interface DataKey {
  plaintext: Uint8Array;
  wrapped: Uint8Array;
}

/** The key-encryption-key side: KMS GenerateDataKey/Decrypt, or the local key file. */
export interface KeyWrapper {
  generateDataKey(ctx: SecretContext): Promise<DataKey>;
  unwrap(wrapped: Uint8Array, ctx: SecretContext): Promise<Uint8Array>;
}

/** The port the use cases see. */
export interface SecretCipher {
  seal(value: string, ctx: SecretContext): Promise<string>;
  open(sealed: string, ctx: SecretContext): Promise<string>;
}

const VERSION = 'v1';
/** GCM's additional data and KMS's encryption context: the same facts */
export const encryptionContext = (ctx: SecretContext): Record<string, string> => ({ purpose: 'gpupool-secret', account: ctx.accountId, secret: ctx.name });
const aad = (ctx: SecretContext) => Buffer.from(JSON.stringify(encryptionContext(ctx)));

function gcmSeal(key: Uint8Array, plain: Buffer, ctx: SecretContext): { iv: Buffer; body: Buffer } {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(ctx));
  const body = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  return { iv, body };
}

function gcmOpen(key: Uint8Array, iv: Buffer, body: Buffer, ctx: SecretContext): Buffer {
  if (body.length < 16) throw new Error('sealed value too short');
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(aad(ctx));
  d.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
}

/** `v1.<wrapped data key>.<iv>.<ciphertext+tag>`, each base64url: one string attribute on the item. */
export class EnvelopeCipher implements SecretCipher {
  constructor(private readonly keys: KeyWrapper) {}

  async seal(value: string, ctx: SecretContext): Promise<string> {
    const dk = await this.keys.generateDataKey(ctx);
    try {
      const { iv, body } = gcmSeal(dk.plaintext, Buffer.from(value, 'utf8'), ctx);
      return [VERSION, Buffer.from(dk.wrapped).toString('base64url'), iv.toString('base64url'), body.toString('base64url')].join('.');
    } finally {
      dk.plaintext.fill(0);
    }
  }

  async open(sealed: string, ctx: SecretContext): Promise<string> {
    const [v, wrapped, iv, body] = sealed.split('.');
    if (v !== VERSION || !wrapped || !iv || !body) throw new Error('not a sealed secret');
    const key = await this.keys.unwrap(Buffer.from(wrapped, 'base64url'), ctx);
    try {
      return gcmOpen(key, Buffer.from(iv, 'base64url'), Buffer.from(body, 'base64url'), ctx).toString('utf8');
    } finally {
      key.fill(0);
    }
  }
}

/** The local stack's key-encryption key: 32 random bytes, wrapping each data key with AES-256-GCM. */
export class LocalKeyWrapper implements KeyWrapper {
  constructor(private readonly kek: Uint8Array) {
    if (kek.length !== 32) throw new Error('the local secrets key must be 32 bytes');
  }

  async generateDataKey(ctx: SecretContext): Promise<DataKey> {
    const plaintext = randomBytes(32);
    const { iv, body } = gcmSeal(this.kek, plaintext, ctx);
    return { plaintext, wrapped: Buffer.concat([iv, body]) };
  }

  async unwrap(wrapped: Uint8Array, ctx: SecretContext): Promise<Uint8Array> {
    const b = Buffer.from(wrapped);
    return gcmOpen(this.kek, b.subarray(0, 12), b.subarray(12), ctx);
  }
}

/**
 * The local stack's key: `<dataDir>/secrets.key` (created 0600 on first start, kept across restarts so
 * stored secrets still open), or a random one held in memory when the stack keeps no data on disk.
 */
export function localSecretsKey(dataDir: string | undefined): Uint8Array {
  if (!dataDir) return randomBytes(32);
  const file = path.join(dataDir, 'secrets.key');
  if (existsSync(file)) {
    const kept = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (kept.length === 32) return kept;
    throw new Error(`${file} is not a 32-byte base64 key; remove it only if no stored secret must open again`);
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}
