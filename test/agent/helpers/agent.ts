// Runs the agent in this process against a fake control plane, as `runAgent` (what main() calls).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../agent/config';
import { createLogger } from '../../../agent/log';
import { runAgent } from '../../../agent/main';
import { until } from './lines';
import type { DispatchMessage } from '../../../functions/domain/agent-protocol';

export interface RunningAgent {
  exit: Promise<number>;
  logs: Array<Record<string, unknown>>;
  humans: string[];
  stateDir: string;
  /** SIGTERM's equivalent: drain and resolve with the exit code */
  stop(): Promise<number>;
  /** resolves once the session is open and the agent polls */
  ready(): Promise<void>;
}

export function agentEnv(apiUrl: string, stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GPUPOOL_API_URL: apiUrl,
    GPUPOOL_PROVIDER_KEY: 'pk_test_provider',
    GPUPOOL_NODE_NAME: 'test-node',
    GPUPOOL_RUNTIME: 'process',
    GPUPOOL_SIMULATED_GPUS: '2xA100-80',
    GPUPOOL_STATE_DIR: stateDir,
    GPUPOOL_STOP_GRACE_SECONDS: '1',
    GPUPOOL_DRAIN_SECONDS: '5',
    GPUPOOL_STARTUP_TIMEOUT_SECONDS: '2',
    ...extra,
  };
}

export function startAgent(apiUrl: string, extra: Record<string, string> = {}, stateDir = mkdtempSync(join(tmpdir(), 'gpupool-agent-'))): RunningAgent {
  const loaded = loadConfig(agentEnv(apiUrl, stateDir, extra));
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const logs: Array<Record<string, unknown>> = [];
  const humans: string[] = [];
  const log = createLogger({ level: 'debug', write: (l) => logs.push(JSON.parse(l)), say: (l) => humans.push(l) });
  const drain = new AbortController();
  const exit = runAgent(loaded.config, log, { drain: drain.signal });
  return {
    exit,
    logs,
    humans,
    stateDir,
    stop: () => {
      drain.abort();
      return exit;
    },
    ready: () => until(() => humans.some((h) => h.includes('session open')), 10_000, 'the session to open'),
  };
}

let seq = 0;
/** A dispatch message with a unique attempt id. */
export function dispatch(command: string[], spec: Partial<DispatchMessage['spec']> = {}): DispatchMessage {
  seq++;
  return {
    type: 'dispatch',
    jobId: `job${seq}`,
    attemptId: `att${seq}-${process.pid}`,
    spec: { command, env: {}, gpus: 1, maxDurationSeconds: 60, ...spec },
  };
}
