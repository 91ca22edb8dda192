// Runs each attempt as one `docker run --rm` container named gpupool-<attemptId>: the name makes a
// duplicate start fail instead of running twice, and lets a restarted agent find and remove it. The
// container sees only its allocated GPUs (by uuid) and runs without capabilities or privilege escalation.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from '../log';
import { gangEnv } from './gang-env';
import { signalExitCode, splitLines } from './lines';
import { endedHandle } from './process';
import type { ExitResult, Runtime, RuntimeAttempt, RuntimeHandle, Stream } from './types';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** docker's own failure (bad flag, name in use, GPU unavailable), as opposed to the workload's exit code */
const DOCKER_ERROR_EXIT = 125;

export const containerName = (attemptId: string) => `gpupool-${attemptId}`;

/** The host's CPUs and memory, shared out in proportion to the GPUs an attempt takes. */
export interface HostShare {
  cpus: number;
  memoryBytes: number;
  totalGpus: number;
}

/** `--cpus`/`--memory` for an attempt taking `gpus` of the host's GPUs (a 0-GPU job gets one GPU's share). */
export function resourceLimits(host: HostShare, gpus: number): string[] {
  const share = Math.max(1, gpus) / Math.max(1, host.totalGpus);
  const cpus = Math.max(1, Math.floor(host.cpus * share * 100) / 100);
  const memory = Math.max(512 * 1024 * 1024, Math.floor(host.memoryBytes * share));
  return ['--cpus', String(cpus), '--memory', String(memory)];
}

export function dockerRunArgs(a: Omit<RuntimeAttempt, 'onLine'>, warn: (line: string) => void = () => {}, host?: HostShare): string[] {
  const gpus = a.devices.map((d) => d.uuid);
  const env: string[] = [];
  const ours: Record<string, string> = { GPUPOOL_JOB_ID: a.jobId, GPUPOOL_ATTEMPT_ID: a.attemptId, ...gangEnv(a.spec) };
  for (const [k, v] of Object.entries(a.spec.env)) {
    if (!ENV_NAME.test(k)) warn(`skipped env ${JSON.stringify(k)}: not a valid variable name`);
    else if (!(k in ours)) env.push('-e', `${k}=${v}`);
  }
  for (const [k, v] of Object.entries(ours)) env.push('-e', `${k}=${v}`);
  return [
    'run', '--rm',
    '--name', containerName(a.attemptId),
    '--label', `gpupool.job=${a.jobId}`,
    '--label', `gpupool.attempt=${a.attemptId}`,
    // The quotes are part of the value: docker reads --gpus as CSV, and the uuids are comma-separated.
    ...(gpus.length > 0 ? ['--gpus', `"device=${gpus.join(',')}"`] : []),
    '--security-opt', 'no-new-privileges',
    '--cap-drop', 'ALL',
    '--pids-limit', '4096',
    '--shm-size', '1g',
    // a gang's ranks reach each other on the hosts' addresses: NCCL and torchrun's rendezvous open ports
    // of their own choosing, which published ports cannot cover, so ranks share the host's network
    ...(a.spec.gang ? ['--network', 'host'] : []),
    ...(host ? resourceLimits(host, gpus.length) : []),
    // per-attempt scratch space: an anonymous volume, removed with the container by --rm
    '--mount', 'type=volume,dst=/scratch',
    ...env,
    a.spec.image ?? '',
    ...a.spec.command,
  ];
}

export class DockerRuntime implements Runtime {
  readonly kind = 'docker';

  constructor(
    private readonly log: Logger,
    private readonly docker = 'docker',
    /** the host's resources; undefined leaves containers unlimited (tests) */
    private readonly host?: HostShare,
  ) {}

  start(a: RuntimeAttempt): RuntimeHandle {
    const image = a.spec.image;
    if (!image) return endedHandle({ exitCode: null, signal: null, error: 'docker runtime needs an image' });
    const name = containerName(a.attemptId);
    const state: { stopping: boolean; current?: ChildProcess; running: boolean } = { stopping: false, running: false };
    const system = (line: string) => a.onLine('system', line);
    const done = (async (): Promise<ExitResult> => {
      const pulled = await this.pull(image, system, state);
      if (state.stopping) return { exitCode: null, signal: null };
      if (pulled) return { exitCode: null, signal: null, error: pulled };
      state.running = true;
      const run = await this.exec(dockerRunArgs(a, system, this.host), a.onLine, (c) => (state.current = c));
      if (run.exitCode === DOCKER_ERROR_EXIT) return { ...run, error: `docker run failed (exit ${DOCKER_ERROR_EXIT}); see the system lines` };
      return run;
    })();
    return {
      ref: { container: name },
      wait: () => done,
      stop: async (graceMs) => {
        if (!state.stopping) {
          state.stopping = true;
          if (state.running) this.stopContainer(name, graceMs, state);
          else state.current?.kill('SIGTERM'); // still pulling: just abandon the pull
        }
        return done;
      },
    };
  }

  async killLeftover(ref: { container?: string; attemptId: string }): Promise<void> {
    if (ref.container) await this.exec(['rm', '-f', ref.container], () => {});
  }

  /** Pulls the image; returns an error sentence, or undefined when the image is ready. */
  private async pull(image: string, system: (l: string) => void, state: { current?: ChildProcess }): Promise<string | undefined> {
    system(`pulling ${image}`);
    const pull = await this.exec(['pull', image], (_s, t) => system(t), (c) => (state.current = c));
    if (pull.exitCode === 0) return undefined;
    // Images built on this host exist in no registry: the pull fails, yet the image is there to run.
    const local = await this.exec(['image', 'inspect', '--format', '{{.Id}}', image], () => {});
    if (local.exitCode === 0) {
      system(`pull failed; using the local copy of ${image}`);
      return undefined;
    }
    return pull.error ?? `docker pull ${image} failed (exit ${pull.exitCode})`;
  }

  // `docker stop` sends SIGTERM, waits, then SIGKILLs inside the daemon. If the daemon does not answer,
  // the run client is killed and the container removed, so a wedged daemon cannot hold the attempt forever.
  private stopContainer(name: string, graceMs: number, state: { current?: ChildProcess }): void {
    const seconds = Math.ceil(graceMs / 1000);
    void this.exec(['stop', '-t', String(seconds), name], () => {});
    const fallback = setTimeout(() => {
      this.log.warn('docker stop did not end the container; removing it', { container: name });
      state.current?.kill('SIGKILL');
      void this.exec(['rm', '-f', name], () => {});
    }, graceMs + 15_000);
    fallback.unref();
    state.current?.once('exit', () => clearTimeout(fallback));
  }

  private exec(args: string[], onLine: (s: Stream, t: string) => void, started?: (c: ChildProcess) => void): Promise<ExitResult> {
    const child = spawn(this.docker, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    started?.(child);
    const output = Promise.all([
      splitLines(child.stdout, (t) => onLine('stdout', t)),
      splitLines(child.stderr, (t) => onLine('stderr', t)),
    ]);
    return new Promise<ExitResult>((resolve) => {
      child.once('error', (err) => resolve({ exitCode: null, signal: null, error: `cannot run ${this.docker}: ${err.message}` }));
      child.once('close', (code, signal) => resolve({ exitCode: code ?? signalExitCode(signal, constants.signals), signal }));
    }).then(async (r) => (await output, r));
  }
}
