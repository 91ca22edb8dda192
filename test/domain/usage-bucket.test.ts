// The authorizer's usage bucket: stable per account, spread evenly, within range.
import { describe, expect, it } from 'vitest';
import { usageBucketOf, usageKeyValue } from '../../functions/domain/usage-bucket';

describe('usage buckets', () => {
  it('puts an account in the same bucket every time, within range', () => {
    expect(usageBucketOf('01abc', 16)).toBe(usageBucketOf('01abc', 16));
    for (let i = 0; i < 200; i++) {
      const b = usageBucketOf(`acct-${i}`, 16);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(16);
    }
    expect(usageBucketOf('anything', 1)).toBe(0);
  });
  it('spreads many accounts evenly over the buckets', () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[usageBucketOf(`01hx${i.toString(36)}`, 16)]++;
    // 1,000 expected per bucket; a fair hash stays well within ±15 %
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });
  it('refuses a bucket count that is not a positive integer', () => {
    expect(() => usageBucketOf('a', 0)).toThrow();
    expect(() => usageBucketOf('a', 1.5)).toThrow();
  });
  it('names each bucket’s key after the stack’s base value', () => {
    expect(usageKeyValue('gpupool-usage-abc', 3)).toBe('gpupool-usage-abc-3');
  });
});
