// The node's own Ed25519 key pair: it signs every probe answer, and its public half is registered with the
// node. Kept in the state dir as node-key.pem (PKCS#8, 0600), so a restarted agent is the same signer.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publicKeyText } from '../../functions/domain/checker/signing';

export interface NodeKey {
  privateKey: KeyObject;
  /** base64 SPKI DER, as registered */
  publicKey: string;
}

export const NODE_KEY_FILE = 'node-key.pem';

export async function loadOrCreateNodeKey(stateDir: string): Promise<NodeKey> {
  const path = join(stateDir, NODE_KEY_FILE);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing) {
    try {
      const privateKey = createPrivateKey({ key: existing, format: 'pem' });
      if (privateKey.asymmetricKeyType === 'ed25519') return { privateKey, publicKey: publicKeyText(createPublicKey(privateKey)) };
    } catch {
      // unreadable: a new key follows; the control plane keeps the registered one, so probes fail until
      // an operator re-registers the node, which is what a lost key should mean
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return { privateKey, publicKey: publicKeyText(publicKey) };
}
