// Envelope encryption of secrets (functions/store/secret-cipher.ts, kms-cipher.ts): a sealed value holds no
// plain text, opens only under the account and name it was sealed for, and on AWS goes to KMS with that
// context (GenerateDataKey to seal, Decrypt pinned to the key to open). The local key file is made 0600 once.
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KmsKeyWrapper } from '../../functions/store/kms-cipher';
import { EnvelopeCipher, LocalKeyWrapper, localSecretsKey } from '../../functions/store/secret-cipher';

const CTX = { accountId: 'acct1', name: 'hf' };
const VALUE = 'hf_secret-value-1234';

describe('envelope cipher with the local key', () => {
  const cipher = new EnvelopeCipher(new LocalKeyWrapper(randomBytes(32)));

  it('round-trips; each seal is different; the sealed text holds no plain value', async () => {
    const a = await cipher.seal(VALUE, CTX);
    const b = await cipher.seal(VALUE, CTX);
    expect(a).not.toBe(b);
    expect(a).not.toContain(VALUE);
    expect(a).not.toContain(Buffer.from(VALUE).toString('base64').slice(0, 12));
    expect(await cipher.open(a, CTX)).toBe(VALUE);
    expect(await cipher.open(await cipher.seal('é ✓ multi\nline', CTX), CTX)).toBe('é ✓ multi\nline');
  });

  it('a sealed value does not open for another account, another name, another key, or tampered', async () => {
    const s = await cipher.seal(VALUE, CTX);
    await expect(cipher.open(s, { ...CTX, accountId: 'acct2' })).rejects.toThrow();
    await expect(cipher.open(s, { ...CTX, name: 'other' })).rejects.toThrow();
    await expect(new EnvelopeCipher(new LocalKeyWrapper(randomBytes(32))).open(s, CTX)).rejects.toThrow();
    const parts = s.split('.');
    const body = Buffer.from(parts[3], 'base64url');
    body[0] ^= 1;
    await expect(cipher.open([...parts.slice(0, 3), body.toString('base64url')].join('.'), CTX)).rejects.toThrow();
    await expect(cipher.open('plain', CTX)).rejects.toThrow(/not a sealed secret/);
  });

  it('the key file is created 0600 on first start and reused after', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-key-'));
    try {
      const k1 = localSecretsKey(path.join(dir, '.gpupool'));
      const file = path.join(dir, '.gpupool', 'secrets.key');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toEqual(Buffer.from(k1));
      expect(Buffer.from(localSecretsKey(path.join(dir, '.gpupool')))).toEqual(Buffer.from(k1));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('envelope cipher with KMS (mocked)', () => {
  const kms = mockClient(KMSClient);
  afterEach(() => kms.reset());
  const KEY = 'arn:aws:kms:us-east-1:123456789012:key/abc';
  const CONTEXT = { purpose: 'gpupool-secret', account: 'acct1', secret: 'hf' };

  it('seals with one GenerateDataKey under the context, opens with one Decrypt pinned to the key', async () => {
    const dataKey = randomBytes(32);
    const wrapped = Buffer.from('wrapped-by-kms');
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: Uint8Array.from(dataKey), CiphertextBlob: wrapped, KeyId: KEY });
    kms.on(DecryptCommand).resolves({ Plaintext: Uint8Array.from(dataKey), KeyId: KEY });
    const cipher = new EnvelopeCipher(new KmsKeyWrapper(new KMSClient({ region: 'us-east-1' }), KEY));
    const sealed = await cipher.seal(VALUE, CTX);
    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 1);
    expect(kms).toHaveReceivedCommandWith(GenerateDataKeyCommand, { KeyId: KEY, KeySpec: 'AES_256', EncryptionContext: CONTEXT });
    expect(sealed).not.toContain(VALUE);
    expect(Buffer.from(sealed.split('.')[1], 'base64url').toString()).toBe('wrapped-by-kms');
    expect(await cipher.open(sealed, CTX)).toBe(VALUE);
    expect(kms).toHaveReceivedCommandTimes(DecryptCommand, 1);
    expect(kms).toHaveReceivedCommandWith(DecryptCommand, { KeyId: KEY, EncryptionContext: CONTEXT });
  });

  it('KMS refusing the context (another account) fails the open', async () => {
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: randomBytes(32), CiphertextBlob: Buffer.from('w') });
    kms.on(DecryptCommand).rejects(Object.assign(new Error('InvalidCiphertextException'), { name: 'InvalidCiphertextException' }));
    const cipher = new EnvelopeCipher(new KmsKeyWrapper(new KMSClient({ region: 'us-east-1' }), KEY));
    const sealed = await cipher.seal(VALUE, CTX);
    await expect(cipher.open(sealed, { ...CTX, accountId: 'acct2' })).rejects.toThrow(/InvalidCiphertext/);
  });
});

