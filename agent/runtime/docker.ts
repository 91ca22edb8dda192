// Runs each attempt as one `docker run` container named gpupool-<attemptId> (removed after it ends): the name makes a
// duplicate start fail instead of running twice, and the labels let a restarted agent find and remove it
// even when it never got into attempts.json. The container sees only its allocated GPUs (by uuid), runs
// without capabilities or privilege escalation, and shares no network with the host or other attempts.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';
import type { PullReport } from '../../functions/domain/agent-protocol';
import { isImageReference } from '../../functions/domain/image-ref';
import { PrivateRepos, withRegistryLogin } from './registry-login';
import type { Logger } from '../log';
import { gangEnv } from './gang-env';
import { ImageGc } from './image-gc';
import { collecting, ImagePuller } from './pull';
import { signalExitCode, splitLines } from './lines';
import { guardAttempt } from './orphan-guard';
import { endedHandle } from './process';
import type { ExitResult, Runtime, RuntimeAttempt, RuntimeHandle, Stream } from './types';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** docker's own failure (bad flag, name in use, GPU unavailable), as opposed to the workload's exit code */
const DOCKER_ERROR_EXIT = 125;
/** the label that says which agent (by its state dir) started a container or network */
export const OWNER_LABEL = 'gpupool.state-dir';

export const containerName = (attemptId: string) => `gpupool-${attemptId}`;
/** a gang rank's own bridge network (single-node attempts get none at all) */
export const networkName = (attemptId: string) => `gpupool-${attemptId}`;

/** The host's CPUs and memory, shared out in proportion to the GPUs an attempt takes. */
export interface HostShare {
  cpus: number;
  memoryBytes: number;
  totalGpus: number;
}

export interface DockerOptions {
  /** the docker CLI; DOCKER_HOST in the agent's environment says which engine */
  docker?: string;
  /** the host's resources; undefined leaves containers unlimited (tests) */
  host?: HostShare;
  /** GPUs are simulated (GPUPOOL_SIMULATED_GPUS): no `--gpus`, the devices are named in the environment */
  simulatedGpus?: boolean;
  /** the agent's state dir, put on every container as OWNER_LABEL so a restart finds what it left */
  owner?: string;
  /** a pull starts only with this much free on the docker data root (GPUPOOL_IMAGE_MIN_FREE_GB; default 0: no check) */
  minFreeBytes?: number;
  /** the images the agent used are kept within this (GPUPOOL_IMAGE_DISK_BUDGET_GB; needs `owner`, where the use record lives) */
  imageBudgetBytes?: number;
}

/** `--cpus`/`--memory` for an attempt taking `gpus` of the host's GPUs (a 0-GPU job gets one GPU's share). */
export function resourceLimits(host: HostShare, gpus: number): string[] {
  const share = Math.max(1, gpus) / Math.max(1, host.totalGpus);
  const cpus = Math.max(1, Math.floor(host.cpus * share * 100) / 100);
  const memory = Math.max(512 * 1024 * 1024, Math.floor(host.memoryBytes * share));
  return ['--cpus', String(cpus), '--memory', String(memory)];
}

/**
 * The job's environment as `-e` flags. NVIDIA_* never passes: the NVIDIA container runtime reads
 * NVIDIA_VISIBLE_DEVICES (and its driver-capability siblings) from the container's environment, so a job
 * setting NVIDIA_VISIBLE_DEVICES=all would see every GPU on the host, not the ones it was given.
 */
function envFlags(a: Omit<RuntimeAttempt, 'onLine'>, simulated: boolean, warn: (line: string) => void): string[] {
  const ours: Record<string, string> = {
    ...(simulated ? simulatedDeviceEnv(a) : {}),
    GPUPOOL_JOB_ID: a.jobId,
    GPUPOOL_ATTEMPT_ID: a.attemptId,
    ...gangEnv(a.spec),
    // a service replica listens on its own port inside the container; the host side is published (networkFlags)
    ...(a.spec.service ? { PORT: String(a.spec.service.port) } : {}),
    ...(a.dirs ? { GPUPOOL_INPUT_DIR: '/inputs', GPUPOOL_OUTPUT_DIR: '/outputs', GPUPOOL_CHECKPOINT_DIR: '/checkpoints' } : {}),
  };
  const env: string[] = [];
  for (const [k, v] of Object.entries(a.spec.env)) {
    if (!ENV_NAME.test(k)) warn(`skipped env ${JSON.stringify(k)}: not a valid variable name`);
    else if (k.startsWith('NVIDIA_')) warn(`skipped env ${k}: NVIDIA_* variables are set by the node, not the job`);
    else if (!(k in ours)) env.push('-e', `${k}=${v}`);
  }
  // a secret by name only: docker copies the value from its own environment (secretEnvFor), so it never
  // appears on a command line (`ps`, /proc/<pid>/cmdline)
  for (const k of Object.keys(a.start?.secrets?.env ?? {})) {
    if (!ENV_NAME.test(k) || k.startsWith('NVIDIA_') || k in ours) warn(`skipped secret env ${JSON.stringify(k)}: not a name the job may set`);
    else env.push('-e', k);
  }
  for (const [k, v] of Object.entries(ours)) env.push('-e', `${k}=${v}`);
  return env;
}

/** Variables the docker CLI itself reads: a secret by one of these names would steer the CLI, not reach the job. */
const DOCKER_CLI_ENV = /^(DOCKER_.*|PATH|HOME|TMPDIR|HTTPS?_PROXY|NO_PROXY|ALL_PROXY|https?_proxy|no_proxy|all_proxy|SSL_CERT_(FILE|DIR)|XDG_.*)$/;

/**
 * The environment of the `docker run` process: the agent's own plus the attempt's secret values, which
 * `-e NAME` (envFlags) passes into the container. An error when a secret's name is one the CLI reads.
 */
export function secretEnvFor(a: Pick<RuntimeAttempt, 'start'>): { env?: Record<string, string>; error?: string } {
  const secrets = a.start?.secrets?.env ?? {};
  const names = Object.keys(secrets);
  if (names.length === 0) return {};
  const clash = names.filter((k) => DOCKER_CLI_ENV.test(k));
  if (clash.length > 0) return { error: `secret env ${clash.join(', ')} cannot be given to a container: the docker CLI reads variables of that name; use another name` };
  return { env: secrets };
}

/** What a container on a simulated node learns about its devices, as the NVIDIA runtime would tell it. */
function simulatedDeviceEnv(a: Pick<RuntimeAttempt, 'devices'>): Record<string, string> {
  // no devices: "void" is the NVIDIA runtime's "no GPU", and an empty CUDA_VISIBLE_DEVICES hides every GPU
  return {
    NVIDIA_VISIBLE_DEVICES: a.devices.length > 0 ? a.devices.map((d) => d.uuid).join(',') : 'void',
    CUDA_VISIBLE_DEVICES: a.devices.map((d) => d.index).join(','),
  };
}

/**
 * The network flags. A single-node attempt gets `--network none`: only its own loopback, so neither the
 * host's loopback services, nor the cloud metadata endpoint, nor the provider's networks, nor another
 * attempt's containers are reachable. A gang rank gets its own bridge network (created before the run),
 * and rank 0 publishes the rendezvous port on the host, which is how the other ranks reach it; nothing of
 * the host's network is shared (docs/agent-hosts.md says what a provider must add on a real host).
 */
export function networkFlags(a: Pick<RuntimeAttempt, 'attemptId' | 'spec' | 'hostPort'>): string[] {
  const g = a.spec.gang;
  const s = a.spec.service;
  // A service replica must be reached from the host: the agent's ingress and readiness probe connect to
  // 127.0.0.1:<hostPort>, published to the container's service port. Docker cannot publish a port of a
  // `--network none` container (it has no interface but lo to forward to), so a replica gets its own
  // bridge network like a gang rank, alone on it: no other attempt's container shares it, and the port is
  // published on the host's loopback only, so it is reached through the ingress (with a route pass), never
  // from outside the host directly.
  if (s) return ['--network', networkName(a.attemptId), ...(a.hostPort ? ['--publish', `127.0.0.1:${a.hostPort}:${s.port}`] : [])];
  if (!g) return ['--network', 'none'];
  return ['--network', networkName(a.attemptId), ...(g.rank === 0 ? ['--publish', `${g.masterPort}:${g.masterPort}`] : [])];
}

/** gang ranks and service replicas run on a bridge network of their own, created before the run */
const ownNetwork = (a: Pick<RuntimeAttempt, 'spec'>) => !!(a.spec.gang || a.spec.service);

export function dockerRunArgs(a: Omit<RuntimeAttempt, 'onLine'>, warn: (line: string) => void = () => {}, opts: Omit<DockerOptions, 'docker'> = {}): string[] {
  const simulated = opts.simulatedGpus ?? false;
  const gpus = a.devices.map((d) => d.uuid);
  return [
    // no --rm: the agent removes the container itself after reading whether it ever started (runContainer)
    'run',
    '--name', containerName(a.attemptId),
    '--label', `gpupool.job=${a.jobId}`,
    '--label', `gpupool.attempt=${a.attemptId}`,
    ...(opts.owner ? ['--label', `${OWNER_LABEL}=${opts.owner}`] : []),
    // The quotes are part of the value: docker reads --gpus as CSV, and the uuids are comma-separated.
    ...(gpus.length > 0 && !simulated ? ['--gpus', `"device=${gpus.join(',')}"`] : []),
    '--security-opt', 'no-new-privileges',
    '--cap-drop', 'ALL',
    '--pids-limit', '4096',
    '--shm-size', '1g',
    ...networkFlags(a),
    ...(opts.host ? resourceLimits(opts.host, gpus.length) : []),
    // per-attempt scratch space: an anonymous volume, removed with the container (rm -v)
    '--mount', 'type=volume,dst=/scratch',
    // the attempt's inputs, outputs and checkpoints, on the host under the agent's state dir (docs/data.md)
    ...(a.dirs
      ? ['--mount', `type=bind,src=${a.dirs.inputs},dst=/inputs,readonly`, '--mount', `type=bind,src=${a.dirs.outputs},dst=/outputs`, '--mount', `type=bind,src=${a.dirs.checkpoints},dst=/checkpoints`]
      : []),
    ...envFlags(a, simulated, warn),
    // the image is validated at submit and again in start; `--` makes sure it can never be read as a flag
    '--',
    a.spec.image ?? '',
    ...a.spec.command,
  ];
}

export class DockerRuntime implements Runtime {
  readonly kind = 'docker';
  private readonly docker: string;
  private readonly puller: ImagePuller;
  /** least recently used images go when over the provider's budget or short of disk (image-gc.ts) */
  readonly gc?: ImageGc;

  constructor(
    private readonly log: Logger,
    private readonly opts: DockerOptions = {},
  ) {
    this.docker = opts.docker ?? 'docker';
    const run = this.exec.bind(this);
    this.gc = opts.owner ? new ImageGc(collecting(run), log, { stateDir: opts.owner, budgetBytes: opts.imageBudgetBytes }) : undefined;
    const privates = new PrivateRepos(opts.owner ? path.join(opts.owner, 'private-repos.json') : undefined);
    this.puller = new ImagePuller(run, log, { minFreeBytes: opts.minFreeBytes ?? 0, gc: this.gc, privates });
  }

  start(a: RuntimeAttempt): RuntimeHandle {
    const image = a.spec.image;
    if (!image) return endedHandle({ exitCode: null, signal: null, error: 'docker runtime needs an image' });
    // checked at submit too; an agent never hands docker an argument it could read as a flag
    if (!isImageReference(image)) return endedHandle({ exitCode: null, signal: null, error: `not a Docker image reference: ${JSON.stringify(image.slice(0, 200))}` });
    const name = containerName(a.attemptId);
    const state: { stopping: boolean; current?: ChildProcess; running: boolean } = { stopping: false, running: false };
    const system = (line: string) => a.onLine('system', line);
    const secretEnv = secretEnvFor(a);
    if (secretEnv.error) return endedHandle({ exitCode: null, signal: null, error: secretEnv.error });
    const login = a.start?.secrets?.registryAuth;
    const done = (async (): Promise<ExitResult> => {
      // the pull is a phase of the attempt (pull.ts): typed when it fails, the image pinned while it runs;
      // a private image's login exists for this pull only (registry-login.ts)
      const hooks = { system, phase: (p: PullReport) => a.onPull?.(p), started: (c: ChildProcess) => (state.current = c) };
      const ready = login ? await withRegistryLogin(login, (dockerConfig) => this.puller.ensure(image, { ...hooks, dockerConfig })) : await this.puller.ensure(image, hooks);
      if (!ready.ok) {
        if (state.stopping) return { exitCode: null, signal: null };
        const consumers = ready.failure === 'IMAGE_NOT_FOUND' || ready.failure === 'REGISTRY_UNAUTHORIZED';
        return { exitCode: null, signal: null, error: `image pull failed${ready.failure ? ` (${ready.failure})` : ''}: ${ready.message}`, infrastructure: !consumers };
      }
      try {
        return await this.runContainer(a, state, system, secretEnv.env);
      } finally {
        ready.release();
      }
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

  private async runContainer(a: RuntimeAttempt, state: { stopping: boolean; current?: ChildProcess; running: boolean }, system: (l: string) => void, secretEnv?: Record<string, string>): Promise<ExitResult> {
    if (state.stopping) return { exitCode: null, signal: null };
    const network = ownNetwork(a) ? await this.createNetwork(a) : undefined;
    if (network) return network;
    if (state.stopping) return this.removeNetwork(a, { exitCode: null, signal: null });
    state.running = true;
    const stderr: string[] = [];
    const onLine = (s: Stream, t: string) => {
      if (s === 'stderr' && stderr.length < 20) stderr.push(t);
      a.onLine(s, t);
    };
    // the agent killed -9 must not leave the container running (orphan-guard.ts); the docker CLI's env (DOCKER_HOST) is the agent's
    const guard = guardAttempt('"$1" rm -f "$2" >/dev/null 2>&1', [this.docker, containerName(a.attemptId)], process.env);
    const name = containerName(a.attemptId);
    const run = await this.exec(dockerRunArgs(a, system, this.opts), onLine, (c) => (state.current = c), secretEnv).finally(() => guard.release());
    // 125 is docker failing only when the container never started: a workload may exit 125 itself, and its
    // output goes to the same stderr, so neither the code nor the words alone can say whose failure it was
    const ended = run.exitCode === DOCKER_ERROR_EXIT && !(await this.everStarted(name)) ? dockerFailure(run, stderr) : run;
    // what --rm would have done: the container and its anonymous volumes (/scratch) go
    await this.exec(['rm', '-f', '-v', name], () => {});
    return this.removeNetwork(a, ended);
  }

  /** Whether the container's process ever started (docker sets State.StartedAt then; a create or start that failed leaves it zero). */
  private async everStarted(name: string): Promise<boolean> {
    const out: string[] = [];
    const r = await this.exec(['inspect', '--type', 'container', '--format', '{{.State.StartedAt}}', name], (s, t) => s === 'stdout' && out.push(t));
    const at = Date.parse(out.join('').trim());
    return r.exitCode === 0 && Number.isFinite(at) && new Date(at).getUTCFullYear() > 1;
  }

  async killLeftover(ref: { container?: string; attemptId: string }): Promise<void> {
    if (ref.container) await this.exec(['rm', '-f', ref.container], () => {});
    await this.exec(['network', 'rm', networkName(ref.attemptId)], () => {});
  }

  /**
   * Every container this agent's state dir ever started that is still there (running or not), by label: a
   * restarted agent owns none of them. The job and attempt come from the labels, so one that was started
   * just before a crash, and never written to attempts.json, is found too.
   */
  async ownedContainers(): Promise<{ container: string; jobId: string; attemptId: string }[]> {
    if (!this.opts.owner) return [];
    const found: { container: string; jobId: string; attemptId: string }[] = [];
    const format = '{{.Names}}\t{{.Label "gpupool.job"}}\t{{.Label "gpupool.attempt"}}';
    const r = await this.exec(['ps', '-a', '--no-trunc', '--filter', `label=${OWNER_LABEL}=${this.opts.owner}`, '--format', format], (s, t) => {
      const [container, jobId, attemptId] = t.split('\t');
      if (s === 'stdout' && container && jobId && attemptId) found.push({ container, jobId, attemptId });
    });
    if (r.exitCode !== 0) throw new Error(`docker ps failed (exit ${r.exitCode})${r.error ? `: ${r.error}` : ''}`);
    return found;
  }

  /** A gang rank's or service replica's own bridge network; an error result when the engine refuses it (the node's fault). */
  private async createNetwork(a: RuntimeAttempt): Promise<ExitResult | undefined> {
    const owner = this.opts.owner ? ['--label', `${OWNER_LABEL}=${this.opts.owner}`] : [];
    const lines: string[] = [];
    const r = await this.exec(['network', 'create', '--driver', 'bridge', '--label', `gpupool.attempt=${a.attemptId}`, ...owner, networkName(a.attemptId)], (_s, t) => lines.push(t));
    if (r.exitCode === 0) return undefined;
    for (const l of lines) a.onLine('system', l);
    return { exitCode: null, signal: null, error: `docker network create failed (exit ${r.exitCode})`, infrastructure: true };
  }

  private async removeNetwork(a: RuntimeAttempt, result: ExitResult): Promise<ExitResult> {
    if (ownNetwork(a)) await this.exec(['network', 'rm', networkName(a.attemptId)], () => {});
    return result;
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

  /** `env` is added to the agent's environment for this one docker CLI process (a secret, a login's DOCKER_CONFIG) */
  private exec(args: string[], onLine: (s: Stream, t: string) => void, started?: (c: ChildProcess) => void, env?: Record<string, string>): Promise<ExitResult> {
    const child = spawn(this.docker, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    started?.(child);
    const output = Promise.all([
      splitLines(child.stdout, (t) => onLine('stdout', t)),
      splitLines(child.stderr, (t) => onLine('stderr', t)),
    ]);
    return new Promise<ExitResult>((resolve) => {
      child.once('error', (err) => resolve({ exitCode: null, signal: null, error: `cannot run ${this.docker}: ${err.message}`, infrastructure: true }));
      child.once('close', (code, signal) => resolve({ exitCode: code ?? signalExitCode(signal, constants.signals), signal }));
    }).then(async (r) => (await output, r));
  }
}

/**
 * `docker run` exiting 125 is docker failing before the workload ran: the engine is down, the NVIDIA
 * runtime is missing for a `--gpus` request ("could not select device driver"), the name is in use. The
 * agent built every argument and the image was validated and pulled, so the node is at fault, not the
 * consumer: the attempt is handed back (re-placed, not charged), with docker's own words as the reason.
 */
export function dockerFailure(run: ExitResult, stderr: string[]): ExitResult {
  const said = stderr.map((l) => l.replace(/^docker: /, '').trim()).filter((l) => l && !/^Run 'docker run --help'/.test(l) && !/^WARNING:/.test(l));
  const text = said.join(' ');
  const why = said.length > 0 ? `: ${text.slice(0, 500)}` : '; see the system lines';
  const fault = nodeFaultOf(text);
  return { ...run, error: `node fault: docker run failed (exit ${DOCKER_ERROR_EXIT})${why}`, infrastructure: true, ...(fault ? { nodeFault: fault } : {}) };
}

/**
 * The exit-125 failures that no job can get past on this node, so the node stops taking work (the others,
 * a name in use say, end only the attempt). Only the engine's own words count: nothing an image or a job
 * spec controls produces them, so a consumer cannot take nodes out of the pool with a crafted job.
 */
const NODE_FAULTS: ReadonlyArray<{ said: RegExp; fault: string }> = [
  {
    said: /could not select device driver "[^"]*" with capabilities: \[\[gpu\]\]|unknown or invalid runtime name: nvidia/,
    fault: 'docker cannot give GPUs to containers: the NVIDIA Container Toolkit is missing or not configured (nvidia-ctk runtime configure --runtime=docker, restart docker, then restart gpupool-agent)',
  },
  { said: /Cannot connect to the Docker daemon/, fault: 'the Docker daemon is unreachable (start docker, then restart gpupool-agent)' },
];

export function nodeFaultOf(said: string): string | undefined {
  const f = NODE_FAULTS.find((x) => x.said.test(said));
  return f && `${f.fault}; docker said: ${said.slice(0, 200)}`;
}
