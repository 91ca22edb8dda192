// GPUPOOL_BENCH_COMMAND: an optional benchmark the provider configures (e.g. a timed BF16 matrix product)
// whose last output line is its throughput in TFLOPS per GPU. The agent runs it at start and then every
// interval, only while the node is idle so it never competes with a job, and reports the latest figure
// in probe answers; the checker compares it with the expected range for the claimed model.
import { spawn } from 'node:child_process';
import type { Logger } from '../log';

const TIMEOUT_MS = 120_000;

/** The number on the last non-empty line (`742.5`, `742.5 TFLOPS`), or undefined. */
export function parseBenchOutput(out: string): number | undefined {
  const last = out.trim().split('\n').pop()?.trim() ?? '';
  const m = /^(\d+(?:\.\d+)?)(?:\s*TFLOPS)?$/i.exec(last);
  return m ? Number(m[1]) : undefined;
}

export function runBenchOnce(command: string, timeoutMs = TIMEOUT_MS): Promise<number | undefined> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      if (out.length < 65_536) out += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? parseBenchOutput(out) : undefined);
    });
  });
}

export class BenchRunner {
  private latest?: { tflops: number };
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly command: string,
    private readonly intervalMs: number,
    private readonly idle: () => boolean,
    private readonly log: Logger,
  ) {}

  /** The latest figure, for probe answers. */
  result(): { tflops: number } | undefined {
    return this.latest;
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.running || !this.idle()) return;
    this.running = true;
    try {
      const tflops = await runBenchOnce(this.command);
      if (tflops === undefined) this.log.warn('benchmark gave no figure (its last line must be a number of TFLOPS)', { command: this.command });
      else {
        this.latest = { tflops };
        this.log.info('benchmark', { tflops });
      }
    } finally {
      this.running = false;
    }
  }
}
