// `gpupool run` arguments → the POST /v1/jobs body. Pure: the environment is passed in (for `--env K`).
import { UsageError } from './errors';
import { parseCredits } from './format';

export interface RunOptions {
  gpus?: string;
  gpuModel?: string[];
  minVram?: string;
  region?: string[];
  maxPrice?: string;
  image?: string;
  env?: string[];
  maxDuration?: string;
  maxAttempts?: string;
  priority?: string;
  name?: string;
  /** `0-N`: a job array of N+1 jobs, indices 0..N (Slurm's shape; docs/cli.md) */
  array?: string;
  /** job ids (repeatable, or comma-separated) that must succeed first */
  after?: string[];
}

export interface JobBody {
  name?: string;
  image?: string;
  command: string[];
  env: Record<string, string>;
  resources: { gpus: number; gpuModels?: string[]; minVramGb?: number };
  placement?: { regions: string[] };
  maxPricePerGpuHour?: number;
  maxDurationSeconds?: number;
  maxAttempts?: number;
  priority?: number;
  array?: { size: number };
  after?: string[];
}

/** the API's largest array (domain/schemas.ts MAX_ARRAY_SIZE) */
const MAX_ARRAY_SIZE = 1000;

/**
 * `--array 0-99` → 100 jobs, told GPUPOOL_ARRAY_INDEX 0..99 (Slurm's inclusive range). The API numbers
 * every array from 0, so a range that starts elsewhere is refused rather than silently renumbered.
 */
export function parseArray(text: string | undefined): { size: number } | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--array takes a range like 0-99 (indices 0 to 99), got "${text}"`);
  const [from, to] = [Number(m[1]), Number(m[2])];
  if (from !== 0)
    throw new UsageError(`--array ranges start at 0 (got "${text}"): use 0-${Math.max(0, to - from)} and add ${from} to $GPUPOOL_ARRAY_INDEX in your command`);
  if (to + 1 > MAX_ARRAY_SIZE) throw new UsageError(`--array makes at most ${MAX_ARRAY_SIZE} jobs (0-${MAX_ARRAY_SIZE - 1}), got "${text}"`);
  return { size: to + 1 };
}

/** Repeatable options also take comma-separated lists: `--gpu-model H100,A100 --gpu-model L40S`. */
export function splitList(values: string[] | undefined): string[] | undefined {
  const out = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return out.length ? [...new Set(out)] : undefined;
}

export function parseInteger(text: string | undefined, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new UsageError(`${flag} must be a whole number, got "${text}"`);
  const n = Number(t);
  if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "3600", "90s", "30m", "2h", "1d", "1h30m" → seconds. */
export function parseDurationSeconds(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (/^\d+$/.test(t)) return parseInteger(t, flag, 1);
  const parts = [...t.matchAll(/(\d+)([smhd])/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== t) throw new UsageError(`${flag} must be seconds or a duration like 90s, 30m, 2h, 1h30m; got "${text}"`);
  const s = parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_SECONDS[p[2]], 0);
  if (s < 1) throw new UsageError(`${flag} must be at least 1 second`);
  return s;
}

/** `K=V` sets K; a bare `K` copies K from the local environment, as `docker run -e K` does. */
export function parseEnv(pairs: string[] | undefined, localEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const i = p.indexOf('=');
    const k = i < 0 ? p : p.slice(0, i);
    if (!k) throw new UsageError(`--env takes K=V (or K to copy it from your environment), got "${p}"`);
    if (i < 0) {
      const v = localEnv[k];
      if (v === undefined) throw new UsageError(`--env ${k}: ${k} is not set in your environment (use ${k}=VALUE)`);
      env[k] = v;
    } else env[k] = p.slice(i + 1);
  }
  return env;
}

/** Credits per GPU-hour as typed ("2.5") → micro-credits. */
export function parsePrice(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const v = parseCredits(text);
  if (v === undefined) throw new UsageError(`${flag} takes credits per GPU-hour, e.g. 2.5 (at most 6 decimals), got "${text}"`);
  return v;
}

export function buildJobBody(command: string[], o: RunOptions, localEnv: NodeJS.ProcessEnv = {}): JobBody {
  if (!command.length) throw new UsageError('nothing to run: give the command after --, e.g. gpupool run --gpus 1 -- nvidia-smi');
  const gpuModels = splitList(o.gpuModel);
  const regions = splitList(o.region);
  const minVramGb = parseInteger(o.minVram, '--min-vram', 1);
  const maxPricePerGpuHour = parsePrice(o.maxPrice, '--max-price');
  const maxDurationSeconds = parseDurationSeconds(o.maxDuration, '--max-duration');
  const maxAttempts = parseInteger(o.maxAttempts, '--max-attempts', 1);
  const priority = parseInteger(o.priority, '--priority', -100, 100);
  const array = parseArray(o.array);
  const after = splitList(o.after);
  if (after && after.length > 20) throw new UsageError(`--after names at most 20 jobs, got ${after.length}`);
  return {
    ...(o.name ? { name: o.name } : {}),
    ...(o.image ? { image: o.image } : {}),
    command,
    env: parseEnv(o.env, localEnv),
    resources: {
      gpus: parseInteger(o.gpus ?? '1', '--gpus', 1)!,
      ...(gpuModels ? { gpuModels } : {}),
      ...(minVramGb !== undefined ? { minVramGb } : {}),
    },
    ...(regions ? { placement: { regions } } : {}),
    ...(maxPricePerGpuHour !== undefined ? { maxPricePerGpuHour } : {}),
    ...(maxDurationSeconds !== undefined ? { maxDurationSeconds } : {}),
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(array ? { array } : {}),
    ...(after ? { after } : {}),
  };
}
