// The AWS side of envelope encryption (secret-cipher.ts): one GenerateDataKey per secret set, one Decrypt
// per secret resolved at an attempt's start, both under the encryption context naming account and secret
// (CloudTrail logs it, and a wrapped key moved to another item's context does not decrypt). The key's
// policy lets only the secrets function generate and only the agent function decrypt (lib/constructs/secrets-key.ts).
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { EnvelopeCipher, encryptionContext, type DataKey, type KeyWrapper, type SecretCipher, type SecretContext } from './secret-cipher';

export class KmsKeyWrapper implements KeyWrapper {
  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {}

  async generateDataKey(ctx: SecretContext): Promise<DataKey> {
    const r = await this.kms.send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: encryptionContext(ctx) }));
    if (!r.Plaintext || !r.CiphertextBlob) throw new Error('KMS GenerateDataKey answered without a key');
    return { plaintext: r.Plaintext, wrapped: r.CiphertextBlob };
  }

  async unwrap(wrapped: Uint8Array, ctx: SecretContext): Promise<Uint8Array> {
    // KeyId pins the key: a blob wrapped under any other key is refused rather than tried
    const r = await this.kms.send(new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: wrapped, EncryptionContext: encryptionContext(ctx) }));
    if (!r.Plaintext) throw new Error('KMS Decrypt answered without a key');
    return r.Plaintext;
  }
}

/** The cipher of a function granted the key (SECRETS_KEY_ID): usecases/deps.ts builds it through useKmsSecretCipher. */
export const kmsSecretCipher = (keyId: string, region: string): SecretCipher => new EnvelopeCipher(new KmsKeyWrapper(new KMSClient({ region }), keyId));
