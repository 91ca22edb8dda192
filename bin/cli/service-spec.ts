// `gpupool serve` arguments → the POST /v1/services body; `gpupool services scale` → the PATCH body.
// Pure: the environment is passed in (for `--env K`).
import { UsageError } from './errors';
import { parseEnv, parseInteger, parsePrice, splitList } from './run-spec';

export interface ServeOptions {
  name?: string;
  port?: string;
  image?: string;
  env?: string[];
  gpus?: string;
  gpuModel?: string[];
  minVram?: string;
  region?: string[];
  maxPrice?: string;
  replicas?: string;
  min?: string;
  max?: string;
  readiness?: string;
  targetInflight?: string;
}

/** The most replicas a service may ask for (the API refuses more). */
export const MAX_REPLICAS = 16;

/** `--replicas N` is min = max = N; `--min`/`--max` set a range the autoscaler moves in. */
export function parseReplicas(o: Pick<ServeOptions, 'replicas' | 'min' | 'max'>, required: boolean): { min: number; max: number } | undefined {
  const fixed = parseInteger(o.replicas, '--replicas', 0, MAX_REPLICAS);
  if (fixed !== undefined) {
    if (o.min !== undefined || o.max !== undefined) throw new UsageError('give --replicas N, or --min and --max, not both');
    return { min: fixed, max: fixed };
  }
  const min = parseInteger(o.min, '--min', 0, MAX_REPLICAS);
  const max = parseInteger(o.max, '--max', 1, MAX_REPLICAS);
  if (min === undefined && max === undefined) {
    if (required) return { min: 1, max: 1 };
    return undefined;
  }
  const lo = min ?? Math.min(1, max!);
  const hi = max ?? Math.max(lo, 1);
  if (lo > hi) throw new UsageError(`--min (${lo}) must not be above --max (${hi})`);
  return { min: lo, max: hi };
}

export function buildServiceBody(command: string[], o: ServeOptions, localEnv: NodeJS.ProcessEnv = {}) {
  if (!o.name) throw new UsageError('--name is required: the service\'s name');
  const port = parseInteger(o.port, '--port', 1, 65_535);
  if (port === undefined) throw new UsageError('--port is required: the port your server listens on (it also gets it as $PORT)');
  if (!command.length && !o.image) throw new UsageError('nothing to serve: give --image, or the command after --');
  const readiness = o.readiness ?? '/';
  if (!readiness.startsWith('/')) throw new UsageError(`--readiness takes a path starting with /, got "${readiness}"`);
  const gpuModels = splitList(o.gpuModel);
  const regions = splitList(o.region);
  const minVramGb = parseInteger(o.minVram, '--min-vram', 1);
  const maxPricePerGpuHour = parsePrice(o.maxPrice, '--max-price');
  const targetInflight = parseInteger(o.targetInflight, '--target-inflight', 1, 10_000);
  return {
    name: o.name,
    ...(o.image ? { image: o.image } : {}),
    command,
    env: parseEnv(o.env, localEnv),
    port,
    replicas: parseReplicas(o, true)!,
    resources: {
      gpus: parseInteger(o.gpus ?? '1', '--gpus', 1)!,
      ...(gpuModels ? { gpuModels } : {}),
      ...(minVramGb !== undefined ? { minVramGb } : {}),
    },
    ...(regions ? { placement: { regions } } : {}),
    readiness: { path: readiness },
    ...(maxPricePerGpuHour !== undefined ? { maxPricePerGpuHour } : {}),
    ...(targetInflight !== undefined ? { targetInflight } : {}),
  };
}

/** `gpupool services update ID [--image I] [-e K=V]… [--target-inflight N]`: what changes; a rolling update when image or env changes. */
export function buildServicePatch(o: Pick<ServeOptions, 'image' | 'env' | 'targetInflight' | 'replicas' | 'min' | 'max'>, localEnv: NodeJS.ProcessEnv = {}) {
  const replicas = parseReplicas(o, false);
  const targetInflight = parseInteger(o.targetInflight, '--target-inflight', 1, 10_000);
  const body = {
    ...(replicas ? { replicas } : {}),
    ...(o.image ? { image: o.image } : {}),
    ...(o.env?.length ? { env: parseEnv(o.env, localEnv) } : {}),
    ...(targetInflight !== undefined ? { targetInflight } : {}),
  };
  if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --replicas, --min/--max, --image, --env or --target-inflight');
  return body;
}
