// Starts real gpupool-agent processes for the local stack and the tests: the same entry point a provider
// runs (`npm run agent`), configured through the environment only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

export interface AgentProcess {
  name: string;
  proc: ChildProcess;
  /** resolves with the exit code (or signal) once the process ended */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface AgentOptions {
  name: string;
  apiUrl: string;
  providerKey: string;
  stateDir: string;
  gpus: string;
  region?: string;
  location?: string;
  price?: number;
  env?: Record<string, string>;
  /** where the agent's stderr goes: inherit, or a callback per line */
  onLine?: (line: string) => void;
  /** run this built agent (e.g. the bundle GET /agent/gpupool-agent.mjs serves) with this node, instead of the sources through tsx */
  bundle?: { execPath: string; file: string };
}

export function startAgent(o: AgentOptions): AgentProcess {
  const [cmd, args] = o.bundle ? [o.bundle.execPath, [o.bundle.file]] : [process.execPath, ['--import', tsxLoader, path.join(root, 'bin/gpupool-agent.ts')]];
  const proc = spawn(cmd, args, {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GPUPOOL_API_URL: o.apiUrl,
      GPUPOOL_PROVIDER_KEY: o.providerKey,
      GPUPOOL_NODE_NAME: o.name,
      GPUPOOL_RUNTIME: 'process',
      GPUPOOL_SIMULATED_GPUS: o.gpus,
      GPUPOOL_STATE_DIR: o.stateDir,
      GPUPOOL_REGION: o.region ?? 'local',
      // the local stack's inputs may be served on this machine (docs/data.md, Inputs)
      GPUPOOL_INPUT_LOOPBACK: '1',
      ...(o.location ? { GPUPOOL_LOCATION: o.location } : {}),
      ...(o.price !== undefined ? { GPUPOOL_PRICE_PER_GPU_HOUR: String(o.price) } : {}),
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) o.onLine?.(`[${o.name}] ${line}`);
  };
  proc.stdout?.on('data', forward);
  proc.stderr?.on('data', forward);
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return {
    name: o.name,
    proc,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
