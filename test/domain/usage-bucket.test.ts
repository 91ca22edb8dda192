// The authorizer's usage bucket: stable per account or node, spread evenly, within range, in the caller's tier.
import { describe, expect, it } from 'vitest';
import { usageBucketOf, usageKeyOf, usageKeyValue, usageSubjectOf } from '../../functions/domain/usage-bucket';

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
  it('names agent-tier keys apart from account-tier keys', () => {
    expect(usageKeyValue('gpupool-usage-abc', 3, 'agent')).toBe('gpupool-usage-abc-agent-3');
    expect(usageKeyValue('gpupool-usage-abc', 3, 'account')).toBe('gpupool-usage-abc-3');
  });
  it('meters node keys by node in the agent tier and every other key by account', () => {
    expect(usageSubjectOf({ role: 'node', accountId: 'p', keyId: 'k', nodeId: 'n1' })).toEqual({ tier: 'agent', id: 'n1' });
    expect(usageSubjectOf({ role: 'node', accountId: 'p', keyId: 'k' })).toEqual({ tier: 'agent', id: 'k' });
    for (const role of ['consumer', 'provider', 'admin'] as const) {
      expect(usageSubjectOf({ role, accountId: 'p', keyId: 'k', nodeId: 'n1' })).toEqual({ tier: 'account', id: 'p' });
    }
    expect(usageKeyOf({ role: 'node', accountId: 'p', keyId: 'k', nodeId: 'n1' }, 'b', { account: 1, agent: 1 })).toBe('b-agent-0');
    expect(usageKeyOf({ role: 'consumer', accountId: 'p', keyId: 'k' }, 'b', { account: 1, agent: 1 })).toBe('b-0');
  });
});
