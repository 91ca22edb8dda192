// Output masking (agent/secret-mask.ts), GitHub Actions' rules: every occurrence of a value becomes ***,
// each line of a multi-line value too; values shorter than 4 characters are left alone.
import { describe, expect, it } from 'vitest';
import { SecretMask, secretValues } from '../../agent/secret-mask';

describe('SecretMask', () => {
  it('masks every occurrence, longest value first, and each line of a multi-line value', () => {
    const m = new SecretMask(['token123', 'token123456', '-----BEGIN KEY-----\nAAAAbbbbCCCC\n-----END KEY-----']);
    expect(m.mask('a token123456 b token123 c')).toBe('a *** b *** c');
    expect(m.mask('AAAAbbbbCCCC')).toBe('***');
    expect(m.mask('nothing here')).toBe('nothing here');
  });

  it('leaves values shorter than 4 characters and transformed values alone (documented)', () => {
    const m = new SecretMask(['abc', 'secretvalue']);
    expect(m.mask('abc abc')).toBe('abc abc');
    expect(m.mask(Buffer.from('secretvalue').toString('base64'))).toBe(Buffer.from('secretvalue').toString('base64'));
    expect(new SecretMask([]).empty).toBe(true);
  });

  it('takes the env values and the registry password of a start answer', () => {
    expect(secretValues({ env: { A: 'one1', B: 'two2' }, registryAuth: { password: 'pw-1234' } })).toEqual(['one1', 'two2', 'pw-1234']);
    expect(secretValues(undefined)).toEqual([]);
  });
});
