// Per-GPU telemetry for heartbeats: utilisation, memory used, temperature and power, from
// `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,temperature.gpu,power.draw --format=csv`.
// Like discovery, the CSV is read by its header, so the exporter's all-fields captures parse too.
// nvidia-smi can be slow (seconds without persistence mode) or hang on a wedged driver: a heartbeat waits
// for it at most `waitMs`, then sends the last good sample, and a hung query is never started twice.
import { execFile } from 'node:child_process';
import type { GpuDevice } from '../../functions/domain/model';
import type { Logger } from '../log';
import { parseQueryCsv } from './nvidia-smi';

export const TELEMETRY_FIELDS = ['index', 'utilization.gpu', 'memory.used', 'temperature.gpu', 'power.draw'] as const;

/** One GPU's figures; null where the board does not report the field (`[N/A]`, `[Not Supported]`). */
export interface GpuTelemetry {
  index: number;
  utilPct: number | null;
  memUsedMiB: number | null;
  tempC: number | null;
  powerW: number | null;
}

export interface Telemetry {
  agentRssMb: number;
  gpus?: GpuTelemetry[];
}

/** Parses the telemetry query's `--format=csv` output (header and units included) by column name. */
export function parseTelemetryCsv(text: string): GpuTelemetry[] {
  return parseQueryCsv(text, 'index').map((row) => {
    // an empty or missing cell is unreadable too (Number('') would be 0)
    const index = row.index === '' ? NaN : Number(row.index);
    if (!Number.isInteger(index) || index < 0) throw new Error(`unreadable GPU index in "${Object.values(row).join(', ').slice(0, 80)}"`);
    const power = figure(row['power.draw']);
    return {
      index,
      utilPct: figure(row['utilization.gpu']),
      memUsedMiB: figure(row['memory.used']),
      tempC: figure(row['temperature.gpu']),
      // one decimal is all a dashboard needs, and keeps the heartbeat small
      powerW: power === null ? null : Math.round(power * 10) / 10,
    };
  });
}

/** `41`, `0 %`, `69.85 W`, `512 MiB` → the number; `[N/A]`, `N/A`, `[Not Supported]`, `` → null. */
function figure(cell: string | undefined): number | null {
  if (cell === undefined) return null;
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*(?:%|W|MiB|C))?$/.exec(cell.trim());
  return m ? Number(m[1]) : null;
}

/** Simulated GPUs idle, always with the same figures, so tests and demos can assert on them. */
export function simulatedTelemetry(devices: readonly Pick<GpuDevice, 'index'>[]): GpuTelemetry[] {
  return devices.map((d) => ({ index: d.index, utilPct: 0, memUsedMiB: 0, tempC: 30, powerW: 50 }));
}

export interface SamplerOptions {
  /** runs the query and resolves with its stdout */
  query?: () => Promise<string>;
  /** how long one heartbeat waits for a fresh sample before sending the last good one */
  waitMs?: number;
  /** a sample older than this is not sent at all */
  maxAgeMs?: number;
  log?: Logger;
  now?: () => number;
}

/** Runs nvidia-smi with a hard timeout; SIGKILL, because a wedged nvidia-smi ignores SIGTERM. */
export function nvidiaSmiTelemetryQuery(timeoutMs = 10_000): () => Promise<string> {
  return () =>
    new Promise((resolve, reject) => {
      execFile(
        'nvidia-smi',
        [`--query-gpu=${TELEMETRY_FIELDS.join(',')}`, '--format=csv'],
        { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
}

export class TelemetrySampler {
  private pending?: Promise<void>;
  private last?: { at: number; gpus: GpuTelemetry[] };
  private failing = false;
  private readonly query: () => Promise<string>;
  private readonly waitMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: SamplerOptions = {}) {
    this.query = opts.query ?? nvidiaSmiTelemetryQuery();
    this.waitMs = opts.waitMs ?? 2_000;
    this.maxAgeMs = opts.maxAgeMs ?? 300_000;
    this.now = opts.now ?? Date.now;
  }

  /** The freshest sample within `waitMs`; undefined when there is none young enough. Never rejects. */
  async sample(): Promise<GpuTelemetry[] | undefined> {
    // A query still running (slow or hung) is waited on again, never started a second time.
    this.pending ??= this.refresh().finally(() => (this.pending = undefined));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pending, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.waitMs)))]);
    clearTimeout(timer);
    return this.last && this.now() - this.last.at <= this.maxAgeMs ? this.last.gpus : undefined;
  }

  private async refresh(): Promise<void> {
    try {
      const gpus = parseTelemetryCsv(await this.query());
      this.last = { at: this.now(), gpus };
      if (this.failing) this.opts.log?.info('GPU telemetry recovered');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.opts.log?.warn('GPU telemetry failing; heartbeats carry none until it works', { err });
      this.failing = true;
    }
  }
}

/** What the heartbeat calls: simulated figures, or nvidia-smi through a sampler. */
export function gpuTelemetrySource(simulated: readonly Pick<GpuDevice, 'index'>[] | undefined, log: Logger): () => Promise<GpuTelemetry[] | undefined> {
  if (simulated) {
    const gpus = simulatedTelemetry(simulated);
    return async () => gpus;
  }
  const sampler = new TelemetrySampler({ log });
  return () => sampler.sample();
}
