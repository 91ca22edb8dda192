import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../agent/config';
import { parseSimulatedSpec, simulatedDevices, simulatedUuid } from '../../agent/gpu/simulated';

const MIN = { GPUPOOL_API_URL: 'http://127.0.0.1:8787', GPUPOOL_PROVIDER_KEY: 'pk_test' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const r = loadConfig({ ...MIN, GPUPOOL_NODE_NAME: 'gpu-1' });
    expect(r).toEqual({
      ok: true,
      config: {
        apiUrl: 'http://127.0.0.1:8787',
        providerKey: 'pk_test',
        nodeKey: undefined,
        nodeName: 'gpu-1',
        region: 'local',
        location: undefined,
        pricePerGpuHour: 2_000_000,
        runtime: 'docker',
        simulatedGpus: undefined,
        probePort: undefined,
        stateDir: '/var/lib/gpupool',
        benchCommand: undefined,
        benchIntervalMs: 3_600_000,
        simulatedDishonest: undefined,
        labels: {},
        drainSeconds: 600,
        stopGraceMs: 10_000,
        logMaxLines: 10_000,
        startupTimeoutMs: 120_000,
        logLevel: 'info',
        spotWatch: false,
        imdsEndpoint: 'http://169.254.169.254',
        imageMinFreeBytes: 2 * 1024 ** 3,
        // a consumer's URL input may reach public addresses only
        inputLoopback: false,
      },
    });
  });

  it('takes the image disk floor and budget in GB (fractions too)', () => {
    const r = loadConfig({ ...MIN, GPUPOOL_IMAGE_MIN_FREE_GB: '0.5', GPUPOOL_IMAGE_DISK_BUDGET_GB: '40' });
    expect(r.ok && [r.config.imageMinFreeBytes, r.config.imageBudgetBytes]).toEqual([512 * 1024 ** 2, 40 * 1024 ** 3]);
    expect(loadConfig({ ...MIN, GPUPOOL_IMAGE_DISK_BUDGET_GB: '-1' }).ok).toBe(false);
  });

  it('turns the spot watch on with 1 or true, and takes another metadata endpoint', () => {
    const on = loadConfig({ ...MIN, GPUPOOL_SPOT_WATCH: '1', GPUPOOL_IMDS_ENDPOINT: 'http://127.0.0.1:1338' });
    expect(on.ok && [on.config.spotWatch, on.config.imdsEndpoint]).toEqual([true, 'http://127.0.0.1:1338']);
    const t = loadConfig({ ...MIN, GPUPOOL_SPOT_WATCH: 'true' });
    expect(t.ok && t.config.spotWatch).toBe(true);
    const bad = loadConfig({ ...MIN, GPUPOOL_SPOT_WATCH: 'yes', GPUPOOL_IMDS_ENDPOINT: 'ftp://x' });
    expect(bad.ok ? [] : bad.problems.map((p) => p.split(':')[0])).toEqual(['GPUPOOL_SPOT_WATCH', 'GPUPOOL_IMDS_ENDPOINT']);
  });

  it('parses every field given as text', () => {
    const r = loadConfig({
      ...MIN,
      GPUPOOL_API_URL: 'https://api.example.com/',
      GPUPOOL_LOCATION: '52.52, 13.40',
      GPUPOOL_PRICE_PER_GPU_HOUR: '2500000',
      GPUPOOL_RUNTIME: 'process',
      GPUPOOL_SIMULATED_GPUS: '2xA100-80',
      GPUPOOL_PROBE_PORT: '9443',
      GPUPOOL_LABELS: 'tier=gold, rack=r7',
      GPUPOOL_SIMULATED_DISHONEST: 'canary',
      GPUPOOL_STOP_GRACE_SECONDS: '2',
    });
    if (!r.ok) throw new Error(r.problems.join('; '));
    expect(r.config).toMatchObject({
      apiUrl: 'https://api.example.com',
      location: { lat: 52.52, lon: 13.4 },
      pricePerGpuHour: 2_500_000,
      runtime: 'process',
      simulatedGpus: { count: 2, model: 'A100', vramGb: 80 },
      probePort: 9443,
      labels: { tier: 'gold', rack: 'r7' },
      simulatedDishonest: 'canary',
      stopGraceMs: 2000,
    });
  });

  it('treats empty values as unset, as in an env file with KEY=', () => {
    const r = loadConfig({ ...MIN, GPUPOOL_REGION: '', GPUPOOL_NODE_KEY: '' });
    expect(r.ok && r.config.region).toBe('local');
  });

  it('accepts a node key instead of a provider key', () => {
    const r = loadConfig({ GPUPOOL_API_URL: MIN.GPUPOOL_API_URL, GPUPOOL_NODE_KEY: 'nk_1' });
    expect(r.ok && r.config.nodeKey).toBe('nk_1');
  });

  it.each([
    [{ GPUPOOL_API_URL: undefined }, /GPUPOOL_API_URL/],
    [{ GPUPOOL_API_URL: 'ftp://x' }, /GPUPOOL_API_URL/],
    [{ GPUPOOL_PROVIDER_KEY: undefined }, /set GPUPOOL_PROVIDER_KEY .* or GPUPOOL_NODE_KEY/],
    [{ GPUPOOL_REGION: 'EU West' }, /GPUPOOL_REGION: lowercase/],
    [{ GPUPOOL_LOCATION: '52.5' }, /GPUPOOL_LOCATION: expected "lat,lon"/],
    [{ GPUPOOL_LOCATION: '95,10' }, /GPUPOOL_LOCATION: latitude/],
    [{ GPUPOOL_PRICE_PER_GPU_HOUR: '-1' }, /GPUPOOL_PRICE_PER_GPU_HOUR/],
    [{ GPUPOOL_PRICE_PER_GPU_HOUR: '1.5' }, /GPUPOOL_PRICE_PER_GPU_HOUR/],
    [{ GPUPOOL_RUNTIME: 'podman' }, /GPUPOOL_RUNTIME/],
    [{ GPUPOOL_SIMULATED_GPUS: 'two A100s' }, /GPUPOOL_SIMULATED_GPUS: expected COUNTxMODEL-VRAMGB/],
    [{ GPUPOOL_PROBE_PORT: '70000' }, /GPUPOOL_PROBE_PORT/],
    [{ GPUPOOL_LABELS: 'tier' }, /label "tier" is not key=value/],
    [{ GPUPOOL_SIMULATED_DISHONEST: 'sometimes' }, /GPUPOOL_SIMULATED_DISHONEST/],
  ])('rejects %o', (override, problem) => {
    const r = loadConfig({ ...MIN, ...override });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('\n')).toMatch(problem);
  });

  it('lists every problem at once', () => {
    const r = loadConfig({ GPUPOOL_RUNTIME: 'podman', GPUPOOL_REGION: 'X' });
    expect(r.ok === false && r.problems.length).toBeGreaterThanOrEqual(3);
  });
});

describe('simulated GPUs', () => {
  it.each([
    ['2xA100-80', { count: 2, model: 'A100', vramGb: 80 }],
    ['1xH100-80', { count: 1, model: 'H100', vramGb: 80 }],
    ['8xrtx4090-24', { count: 8, model: 'RTX4090', vramGb: 24 }],
    [' 1xL4-24 ', { count: 1, model: 'L4', vramGb: 24 }],
  ])('parses %s', (text, spec) => {
    expect(parseSimulatedSpec(text)).toEqual(spec);
  });

  it.each([
    ['A100-80', /expected COUNTxMODEL-VRAMGB/],
    ['2xA100', /expected COUNTxMODEL-VRAMGB/],
    ['2x-80', /expected COUNTxMODEL-VRAMGB/],
    ['0xA100-80', /GPU count must be 1..64/],
    ['65xA100-80', /GPU count must be 1..64/],
    ['1xA100-0', /VRAM must be at least 1 GB/],
    ['2xA100-80,1xH100-80', /expected/], // mixed hosts are out of scope
  ])('rejects %s', (text, error) => {
    const r = parseSimulatedSpec(text);
    expect('error' in r && r.error).toMatch(error);
  });

  it('derives stable, distinct uuids from the node name and index', () => {
    const a = simulatedDevices('node-a', { count: 2, model: 'A100', vramGb: 80 });
    expect(a).toEqual([
      { index: 0, uuid: simulatedUuid('node-a', 0), model: 'A100', vramGb: 80, name: 'Simulated A100 80GB' },
      { index: 1, uuid: simulatedUuid('node-a', 1), model: 'A100', vramGb: 80, name: 'Simulated A100 80GB' },
    ]);
    expect(a[0].uuid).toMatch(/^GPU-sim-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(a[0].uuid).not.toBe(a[1].uuid);
    expect(simulatedDevices('node-a', { count: 1, model: 'A100', vramGb: 80 })[0].uuid).toBe(a[0].uuid);
    expect(simulatedDevices('node-b', { count: 1, model: 'A100', vramGb: 80 })[0].uuid).not.toBe(a[0].uuid);
  });
});
