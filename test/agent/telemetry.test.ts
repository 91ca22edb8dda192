// GPU telemetry: parsing nvidia-smi's CSV by header, the sampler's bounded wait, and what heartbeats carry.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ControlPlane } from '../../agent/api';
import { nvidiaSmiTelemetryQuery, parseTelemetryCsv, simulatedTelemetry, TELEMETRY_FIELDS, TelemetrySampler, type GpuTelemetry } from '../../agent/gpu/telemetry';
import { Heartbeat } from '../../agent/heartbeat';
import { silentLogger, type Logger } from '../../agent/log';
import { pathWithFakes, smiFixture } from './helpers/fixtures';

afterEach(() => vi.unstubAllEnvs());

const H100_IDLE: GpuTelemetry = { index: 0, utilPct: 0, memUsedMiB: 0, tempC: 41, powerW: 69.9 };
const L40S_BUSY: GpuTelemetry = { index: 0, utilPct: 100, memUsedMiB: 0, tempC: 63, powerW: 145 };

describe('parseTelemetryCsv', () => {
  it('reads the telemetry query of a real H100 and L40S (column projections of real captures)', () => {
    expect(parseTelemetryCsv(smiFixture('h100-sxm-1x-telemetry.csv'))).toEqual([H100_IDLE]);
    expect(parseTelemetryCsv(smiFixture('l40s-1x-telemetry.csv'))).toEqual([L40S_BUSY]);
  });

  it('reads the same figures out of the all-fields captures: columns are found by name', () => {
    expect(parseTelemetryCsv(smiFixture('h100-sxm-1x-query-allfields.csv'))).toEqual([H100_IDLE]);
    expect(parseTelemetryCsv(smiFixture('l40s-1x-query-allfields.csv'))).toEqual([L40S_BUSY]);
  });

  it('gives null for what a board does not report, and for columns the query lacks', () => {
    // real header cells (h100-sxm-1x-telemetry.csv); the rows use nvidia-smi's own N/A spellings
    const header = smiFixture('h100-sxm-1x-telemetry.csv').split('\n')[0];
    const csv = `${header}\n0, 12 %, 40960 MiB, 55, [N/A]\n1, [Not Supported], [N/A], N/A, 300.00 W\n`;
    expect(parseTelemetryCsv(csv)).toEqual([
      { index: 0, utilPct: 12, memUsedMiB: 40960, tempC: 55, powerW: null },
      { index: 1, utilPct: null, memUsedMiB: null, tempC: null, powerW: 300 },
    ]);
    expect(parseTelemetryCsv('index, temperature.gpu\n3, 40\n')).toEqual([{ index: 3, utilPct: null, memUsedMiB: null, tempC: 40, powerW: null }]);
  });

  it('refuses output without an index column, and reads nothing as no GPUs', () => {
    expect(() => parseTelemetryCsv(smiFixture('a100-sxm4-80gb-8x-query.csv'))).toThrow(/no CSV header with "index"/);
    expect(parseTelemetryCsv('')).toEqual([]);
  });

  it('keeps a heartbeat small: eight GPUs fit in well under 1 KB', () => {
    const eight = Array.from({ length: 8 }, (_, index) => ({ index, utilPct: 100, memUsedMiB: 81559, tempC: 83, powerW: 699.9 }));
    expect(JSON.stringify({ agentRssMb: 70, gpus: eight }).length).toBeLessThan(800);
  });
});

describe('simulated GPUs', () => {
  it('report the same idle figures every time', () => {
    const devices = [{ index: 0 }, { index: 1 }];
    expect(simulatedTelemetry(devices)).toEqual([
      { index: 0, utilPct: 0, memUsedMiB: 0, tempC: 30, powerW: 50 },
      { index: 1, utilPct: 0, memUsedMiB: 0, tempC: 30, powerW: 50 },
    ]);
    expect(simulatedTelemetry(devices)).toEqual(simulatedTelemetry(devices));
  });
});

describe('nvidiaSmiTelemetryQuery (fake nvidia-smi)', () => {
  it('asks for the five fields with header and units', async () => {
    vi.stubEnv('PATH', pathWithFakes());
    vi.stubEnv('FAKE_NVIDIA_SMI_TELEMETRY_FIXTURE', 'h100-sxm-1x-telemetry.csv');
    expect(TELEMETRY_FIELDS.join(',')).toBe('index,utilization.gpu,memory.used,temperature.gpu,power.draw');
    expect(parseTelemetryCsv(await nvidiaSmiTelemetryQuery()())).toEqual([H100_IDLE]);
  });

  it('kills a hung nvidia-smi at its timeout', async () => {
    vi.stubEnv('PATH', pathWithFakes());
    vi.stubEnv('FAKE_NVIDIA_SMI_HANG', '1');
    const started = Date.now();
    await expect(nvidiaSmiTelemetryQuery(300)()).rejects.toMatchObject({ killed: true, signal: 'SIGKILL' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('TelemetrySampler', () => {
  const CSV = smiFixture('h100-sxm-1x-telemetry.csv');

  it('waits at most waitMs, then sends the last good sample while the slow query goes on', async () => {
    let release!: (csv: string) => void;
    let calls = 0;
    const query = vi.fn(() => {
      calls++;
      return calls === 1 ? Promise.resolve(CSV) : new Promise<string>((r) => (release = r));
    });
    const sampler = new TelemetrySampler({ query, waitMs: 50 });
    expect(await sampler.sample()).toEqual([H100_IDLE]);
    const started = Date.now();
    expect(await sampler.sample()).toEqual([H100_IDLE]); // the second query hangs: last sample
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await sampler.sample()).toEqual([H100_IDLE]);
    expect(query).toHaveBeenCalledTimes(2); // never a second query while one hangs
    release(CSV.replace('0, 0 %', '0, 55 %'));
    await new Promise((r) => setTimeout(r, 10));
    expect((await sampler.sample())?.[0].utilPct).toBe(55);
  });

  it('sends nothing when the query fails or its last sample is too old, and says so once', async () => {
    let now = 0;
    let fail = false;
    const warn = vi.fn();
    const info = vi.fn();
    const log = { ...silentLogger, warn, info } as Logger;
    const sampler = new TelemetrySampler({ query: async () => (fail ? Promise.reject(new Error('NVML: driver not loaded')) : CSV), waitMs: 50, maxAgeMs: 1_000, now: () => now, log });
    expect(await sampler.sample()).toEqual([H100_IDLE]);
    fail = true;
    now = 500;
    expect(await sampler.sample()).toEqual([H100_IDLE]); // still young enough
    now = 2_000;
    expect(await sampler.sample()).toBeUndefined();
    expect(await sampler.sample()).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(1);
    fail = false;
    expect(await sampler.sample()).toEqual([H100_IDLE]);
    expect(info).toHaveBeenCalledWith('GPU telemetry recovered');
  });

  it('treats output it cannot parse as a failure', async () => {
    const sampler = new TelemetrySampler({ query: async () => 'Failed to initialize NVML: Driver/library version mismatch\n', waitMs: 50 });
    expect(await sampler.sample()).toBeUndefined();
  });
});

describe('heartbeat telemetry', () => {
  function heartbeat(gpuTelemetry?: () => Promise<GpuTelemetry[] | undefined>) {
    const api = { heartbeat: vi.fn(async () => ({ nextHeartbeatSeconds: 60, stale: [], cancel: [] })) } as unknown as ControlPlane;
    const hb = new Heartbeat({
      api, log: silentLogger, running: () => [], freeGpus: () => 1,
      periods: () => ({ busySeconds: 10, idleSeconds: 60 }), onStale: () => {}, onCancel: () => {}, gpuTelemetry,
    });
    return { hb, calls: (api.heartbeat as ReturnType<typeof vi.fn>).mock.calls };
  }

  it('carries the GPUs next to the agent RSS', async () => {
    const t = heartbeat(async () => [H100_IDLE]);
    await t.hb.beatNow();
    t.hb.stop();
    expect(t.calls[0][0]).toEqual({ running: [], freeGpus: 1, telemetry: { agentRssMb: expect.any(Number), gpus: [H100_IDLE] } });
  });

  it('still beats, with the RSS only, when there is no sample or the source throws', async () => {
    for (const source of [async () => undefined, () => Promise.reject(new Error('boom'))]) {
      const t = heartbeat(source);
      await t.hb.beatNow();
      t.hb.stop();
      expect(t.calls[0][0]).toEqual({ running: [], freeGpus: 1, telemetry: { agentRssMb: expect.any(Number) } });
    }
  });
});
