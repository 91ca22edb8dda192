// Canonical JSON and Ed25519 signatures of the probe protocol.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, keyPairFromSecret, parsePublicKey, publicKeyText, signPayload, verifyPayload } from '../../functions/domain/checker/signing';

const pair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey };
};

describe('canonicalJson', () => {
  it.each([
    [{ b: 1, a: [2, { d: true, c: null }] }, '{"a":[2,{"c":null,"d":true}],"b":1}'],
    [{ z: 'x', y: undefined }, '{"z":"x"}'],
    [[1, undefined, 'é'], '[1,null,"é"]'],
    ['a"b', '"a\\"b"'],
  ])('%j → %s', (value, text) => expect(canonicalJson(value)).toBe(text));

  it('gives the same text whatever the key order', () => {
    expect(canonicalJson({ nodeId: 'n', nonce: 'x', issuedAt: 1 })).toBe(canonicalJson({ issuedAt: 1, nonce: 'x', nodeId: 'n' }));
  });

  it.each([[NaN], [Infinity], [() => 1], [10n]])('refuses %s', (v) => expect(() => canonicalJson({ v })).toThrow(TypeError));
});

describe('signatures', () => {
  const { privateKey, publicKey } = pair();
  const probe = { nodeId: 'node-1', nonce: 'AAAAAAAAAAAAAAAAAAAAAA', issuedAt: 1_700_000_000_000 };

  it('verify with the signer’s key, in any key order', () => {
    const sig = signPayload(privateKey, 'probe', probe);
    expect(verifyPayload(publicKey, 'probe', { issuedAt: probe.issuedAt, nonce: probe.nonce, nodeId: probe.nodeId }, sig)).toBe(true);
  });

  it.each([
    ['another payload', { ...probe, issuedAt: probe.issuedAt + 1 }, 'probe'],
    ['another message kind (a probe signature is no answer signature)', probe, 'answer'],
  ] as const)('fail for %s', (_what, payload, kind) => {
    const sig = signPayload(privateKey, 'probe', probe);
    expect(verifyPayload(publicKey, kind, payload, sig)).toBe(false);
  });

  it.each([[undefined], [''], ['not base64!'], ['x'.repeat(500)], [42]])('fail, without throwing, for signature %j', (sig) => {
    expect(verifyPayload(publicKey, 'probe', probe, sig)).toBe(false);
  });

  it('fail with another key', () => {
    expect(verifyPayload(pair().publicKey, 'probe', probe, signPayload(privateKey, 'probe', probe))).toBe(false);
  });
});

describe('public keys', () => {
  const { publicKey } = pair();

  it('read base64 SPKI DER and PEM, and round-trip', () => {
    const b64 = publicKeyText(publicKey);
    const pem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
    expect(publicKeyText(parsePublicKey(b64)!)).toBe(b64);
    expect(publicKeyText(parsePublicKey(pem)!)).toBe(b64);
  });

  it.each([
    ['garbage', 'hello'],
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64')],
    ['an over-long text', 'A'.repeat(300)],
  ])('refuse %s', (_what, text) => expect(parsePublicKey(text)).toBeUndefined());

  it('derive the control plane’s pair from its secret, the same every time', () => {
    const a = keyPairFromSecret('s'.repeat(64));
    expect(keyPairFromSecret('s'.repeat(64)).publicKeyText).toBe(a.publicKeyText);
    expect(keyPairFromSecret('t'.repeat(64)).publicKeyText).not.toBe(a.publicKeyText);
    expect(verifyPayload(a.publicKey, 'probe', { x: 1 }, signPayload(a.privateKey, 'probe', { x: 1 }))).toBe(true);
    expect(() => keyPairFromSecret('short')).toThrow();
  });
});
