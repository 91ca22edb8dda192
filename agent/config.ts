// The agent's whole configuration, read once from the environment (the install script writes
// /etc/gpupool/agent.env). Anything wrong here is terminal: the agent exits 2 with every problem listed.
import { homedir, hostname } from 'node:os';
import path from 'node:path';

/** /var/lib/gpupool for the service (root or the unit's StateDirectory); a user's own dir for `npm run agent` */
function defaultStateDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/gpupool' : path.join(homedir(), '.local', 'state', 'gpupool');
}
import * as z from 'zod';
import { parseSimulatedSpec, type SimulatedSpec } from './gpu/simulated';

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const location = z
  .string()
  .regex(/^\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*$/, 'expected "lat,lon", e.g. 52.52,13.40')
  .transform((s) => {
    const [lat, lon] = s.split(',').map(Number);
    return { lat, lon };
  })
  .refine((l) => Math.abs(l.lat) <= 90 && Math.abs(l.lon) <= 180, 'latitude must be within ±90 and longitude within ±180');

const labels = z.string().transform((s, ctx) => {
  const out: Record<string, string> = {};
  for (const pair of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      ctx.addIssue({ code: 'custom', message: `label "${pair}" is not key=value` });
      return z.NEVER;
    }
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
});

const simulatedGpus = z.string().transform((s, ctx): SimulatedSpec => {
  const spec = parseSimulatedSpec(s);
  if ('error' in spec) {
    ctx.addIssue({ code: 'custom', message: spec.error });
    return z.NEVER;
  }
  return spec;
});

const EnvSchema = z
  .object({
    GPUPOOL_API_URL: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
    GPUPOOL_PROVIDER_KEY: z.string().min(1).optional(),
    GPUPOOL_NODE_KEY: z.string().min(1).optional(),
    GPUPOOL_NODE_NAME: z.string().min(1).max(128).default(() => hostname()),
    GPUPOOL_REGION: z.string().regex(/^[a-z0-9-]+$/, 'lowercase letters, digits and dashes').max(64).default('local'),
    GPUPOOL_LOCATION: location.optional(),
    /** micro-credits per GPU-hour */
    GPUPOOL_PRICE_PER_GPU_HOUR: intFrom(0, 1_000_000_000).default(2_000_000),
    GPUPOOL_RUNTIME: z.enum(['docker', 'process']).default('docker'),
    GPUPOOL_SIMULATED_GPUS: simulatedGpus.optional(),
    /** 0: any free port (the session tells the control plane where) */
    GPUPOOL_PROBE_PORT: intFrom(0, 65_535).optional(),
    /** address the probe server binds; default 0.0.0.0, or 127.0.0.1 against a control plane on this host */
    GPUPOOL_PROBE_HOST: z.string().min(1).max(255).regex(/^[A-Za-z0-9.:_-]+$/, 'an IP address or host name').optional(),
    /** the URL the checker should probe, when the host is reached through NAT or a port forward */
    GPUPOOL_PROBE_URL: z.url({ protocol: /^https?$/ }).max(512).optional(),
    GPUPOOL_STATE_DIR: z.string().min(1).default(defaultStateDir),
    /** optional benchmark whose last output line is TFLOPS per GPU; run while idle, reported in probe answers */
    GPUPOOL_BENCH_COMMAND: z.string().min(1).max(4096).optional(),
    GPUPOOL_BENCH_INTERVAL_SECONDS: intFrom(60, 7 * 24 * 3600).default(3600),
    /** what a simulated node lies about, for checker tests; stored now, used by the probe server */
    GPUPOOL_SIMULATED_DISHONEST: z.enum(['gpus', 'challenge', 'canary', 'results']).optional(),
    GPUPOOL_LABELS: labels.default({}),
    GPUPOOL_DRAIN_SECONDS: intFrom(0, 86_400).default(600),
    /** SIGTERM → SIGKILL grace when stopping an attempt */
    GPUPOOL_STOP_GRACE_SECONDS: intFrom(0, 3_600).default(10),
    /** output lines kept per attempt; the rest is dropped and the cut reported */
    GPUPOOL_LOG_MAX_LINES: intFrom(1, 10_000_000).default(10_000),
    /** how long startup keeps retrying an unreachable control plane before exiting 3 */
    GPUPOOL_STARTUP_TIMEOUT_SECONDS: intFrom(1, 3_600).default(120),
    GPUPOOL_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    /** 1: watch EC2's spot interruption notice and drain on it (agent/spot-watch.ts; burst instances set it) */
    GPUPOOL_SPOT_WATCH: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true'),
    /** the instance metadata service's base URL; tests point it at a fake */
    GPUPOOL_IMDS_ENDPOINT: z.url({ protocol: /^https?$/ }).default('http://169.254.169.254'),
    /** 1: a consumer's URL input may lead to loopback addresses (the local stack); default: public addresses only (agent/files/input-guard.ts) */
    GPUPOOL_INPUT_LOOPBACK: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true'),
    /** docker runtime: a pull starts only with this much free on the docker data root (agent/runtime/pull.ts) */
    GPUPOOL_IMAGE_MIN_FREE_GB: z.coerce.number().min(0).max(1_000_000).default(2),
    /** docker runtime: the images the agent pulled for jobs are kept within this, least recently used going first; unset: no budget */
    GPUPOOL_IMAGE_DISK_BUDGET_GB: z.coerce.number().min(0).max(1_000_000).optional(),
  });

export interface AgentConfig {
  apiUrl: string;
  providerKey?: string;
  nodeKey?: string;
  nodeName: string;
  region: string;
  location?: { lat: number; lon: number };
  pricePerGpuHour: number;
  runtime: 'docker' | 'process';
  simulatedGpus?: SimulatedSpec;
  probePort?: number;
  probeHost?: string;
  probeUrl?: string;
  stateDir: string;
  benchCommand?: string;
  benchIntervalMs: number;
  simulatedDishonest?: 'gpus' | 'challenge' | 'canary' | 'results';
  labels: Record<string, string>;
  drainSeconds: number;
  stopGraceMs: number;
  logMaxLines: number;
  startupTimeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  spotWatch: boolean;
  imdsEndpoint: string;
  imageMinFreeBytes: number;
  imageBudgetBytes?: number;
  /** a consumer's URL input may lead to loopback addresses (local stack only) */
  inputLoopback: boolean;
}

export type ConfigResult = { ok: true; config: AgentConfig } | { ok: false; problems: string[] };

export function loadConfig(env: NodeJS.ProcessEnv): ConfigResult {
  // Empty strings come from `KEY=` lines in env files: treat them as unset, like systemd does for defaults.
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('GPUPOOL_') && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  // Checked apart from the schema so it is reported together with any other problem, not only when the rest is fine.
  const keyProblem = present.GPUPOOL_PROVIDER_KEY || present.GPUPOOL_NODE_KEY ? [] : ['GPUPOOL_PROVIDER_KEY: set GPUPOOL_PROVIDER_KEY (to register this node) or GPUPOOL_NODE_KEY'];
  // the lying switch is for simulated nodes in tests only
  if (present.GPUPOOL_SIMULATED_DISHONEST && !present.GPUPOOL_SIMULATED_GPUS) keyProblem.push('GPUPOOL_SIMULATED_DISHONEST: only with GPUPOOL_SIMULATED_GPUS (a test switch)');
  if (!parsed.success || keyProblem.length > 0) {
    const issues = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`);
    return { ok: false, problems: [...issues, ...keyProblem] };
  }
  const e = parsed.data;
  return {
    ok: true,
    config: {
      apiUrl: e.GPUPOOL_API_URL,
      providerKey: e.GPUPOOL_PROVIDER_KEY,
      nodeKey: e.GPUPOOL_NODE_KEY,
      nodeName: e.GPUPOOL_NODE_NAME,
      region: e.GPUPOOL_REGION,
      location: e.GPUPOOL_LOCATION,
      pricePerGpuHour: e.GPUPOOL_PRICE_PER_GPU_HOUR,
      runtime: e.GPUPOOL_RUNTIME,
      simulatedGpus: e.GPUPOOL_SIMULATED_GPUS,
      probePort: e.GPUPOOL_PROBE_PORT,
      probeHost: e.GPUPOOL_PROBE_HOST,
      probeUrl: e.GPUPOOL_PROBE_URL,
      stateDir: e.GPUPOOL_STATE_DIR,
      benchCommand: e.GPUPOOL_BENCH_COMMAND,
      benchIntervalMs: e.GPUPOOL_BENCH_INTERVAL_SECONDS * 1000,
      simulatedDishonest: e.GPUPOOL_SIMULATED_DISHONEST,
      labels: e.GPUPOOL_LABELS,
      drainSeconds: e.GPUPOOL_DRAIN_SECONDS,
      stopGraceMs: e.GPUPOOL_STOP_GRACE_SECONDS * 1000,
      logMaxLines: e.GPUPOOL_LOG_MAX_LINES,
      startupTimeoutMs: e.GPUPOOL_STARTUP_TIMEOUT_SECONDS * 1000,
      logLevel: e.GPUPOOL_LOG_LEVEL,
      spotWatch: e.GPUPOOL_SPOT_WATCH,
      imdsEndpoint: e.GPUPOOL_IMDS_ENDPOINT,
      inputLoopback: e.GPUPOOL_INPUT_LOOPBACK,
      imageMinFreeBytes: Math.round(e.GPUPOOL_IMAGE_MIN_FREE_GB * 1024 ** 3),
      ...(e.GPUPOOL_IMAGE_DISK_BUDGET_GB === undefined ? {} : { imageBudgetBytes: Math.round(e.GPUPOOL_IMAGE_DISK_BUDGET_GB * 1024 ** 3) }),
    },
  };
}
