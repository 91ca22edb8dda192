import { afterEach, describe, expect, it, vi } from 'vitest';
import { discoverGpus, NoGpusError } from '../../agent/gpu/discover';
import { pathWithFakes } from './helpers/fixtures';

// discoverGpus runs `nvidia-smi` from PATH: the fake one prints real captures.
describe('discoverGpus', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('joins the query and -L output of the fake nvidia-smi', async () => {
    vi.stubEnv('PATH', pathWithFakes());
    vi.stubEnv('FAKE_NVIDIA_SMI_FIXTURE', 'a10g-4x-query.csv');
    vi.stubEnv('FAKE_NVIDIA_SMI_LIST_FIXTURE', 'a10g-4x-list.txt');
    const inv = await discoverGpus({ nodeName: 'n' });
    expect(inv.devices.map((d) => [d.index, d.model, d.vramGb, d.uuid.slice(0, 12)])).toEqual([
      [0, 'A10G', 22, 'GPU-ec973bb4'],
      [1, 'A10G', 22, 'GPU-ad84cb44'],
      [2, 'A10G', 22, 'GPU-edcd8447'],
      [3, 'A10G', 22, 'GPU-cf8a578b'],
    ]);
  });

  it('asks again without compute_cap when an old driver rejects the field', async () => {
    vi.stubEnv('PATH', pathWithFakes());
    vi.stubEnv('FAKE_NVIDIA_SMI_FIXTURE', 'h100-sxm-1x-query-allfields.csv');
    vi.stubEnv('FAKE_NVIDIA_SMI_REJECT', 'compute_cap');
    const inv = await discoverGpus({ nodeName: 'n' });
    expect(inv.devices).toHaveLength(1);
    expect(inv.devices[0].model).toBe('H100');
  });

  it('says what to do when there is no nvidia-smi', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    await expect(discoverGpus({ nodeName: 'n' })).rejects.toThrow(NoGpusError);
    await expect(discoverGpus({ nodeName: 'n' })).rejects.toThrow(/GPUPOOL_SIMULATED_GPUS/);
  });

  it('uses simulated GPUs when configured, without calling nvidia-smi', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    const inv = await discoverGpus({ nodeName: 'sim', simulatedGpus: { count: 2, model: 'H100', vramGb: 80 } });
    expect(inv.devices.map((d) => d.model)).toEqual(['H100', 'H100']);
  });
});
