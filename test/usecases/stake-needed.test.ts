// Which nodes need stake: every GPU of a provider's node, except the operator's own burst capacity.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEDGER } from '../../functions/domain/ledger/model';
import { BURST_ACCOUNT_ID } from '../../functions/usecases/burst-deps';
import type { Deps } from '../../functions/usecases/deps';
import { stakeNeeded } from '../../functions/usecases/ledger';

const d = { settings: { ledger: { ...DEFAULT_LEDGER, minStakePerGpu: 5_000_000 } } } as unknown as Deps;

describe('stake needed by a node', () => {
  it('is the minimum per GPU times its GPUs', () => {
    expect(stakeNeeded(d, { totalGpus: 4, providerId: 'p1' })).toBe(20_000_000);
  });
  it('is nothing for the operator’s burst instances', () => {
    expect(stakeNeeded(d, { totalGpus: 4, providerId: BURST_ACCOUNT_ID })).toBe(0);
  });
});
