// Runs the command array directly (no shell, so arguments are never re-parsed) as the leader of its own
// process group: signals go to the group, so a job's children die with it. Used by the local stack and
// on hosts without Docker; it isolates nothing beyond a scratch dir and a minimal environment.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log';
import { gangEnv } from './gang-env';
import { attemptProcesses, killQuietly } from './leftovers';
import { signalExitCode, splitLines } from './lines';
import { guardAttempt, KILL_GROUP } from './orphan-guard';
import type { ExitResult, Runtime, RuntimeAttempt, RuntimeHandle } from './types';

/** How long output may keep flowing after the leader exits before the rest of its group is killed. */
const DRAIN_AFTER_EXIT_MS = 2_000;

export class ProcessRuntime implements Runtime {
  readonly kind = 'process';

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
    private readonly baseEnv: NodeJS.ProcessEnv = process.env,
  ) {}

  start(attempt: RuntimeAttempt): RuntimeHandle {
    const { command } = attempt.spec;
    if (command.length === 0) return endedHandle({ exitCode: null, signal: null, error: 'process runtime needs a command' });
    const scratch = join(this.stateDir, 'work', attempt.attemptId);
    mkdirSync(scratch, { recursive: true, mode: 0o700 });
    const child = spawn(command[0], command.slice(1), {
      cwd: scratch,
      env: this.envFor(attempt, scratch),
      detached: true, // own process group: kill(-pid) reaches every descendant
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    // the agent killed -9 must not leave the job running here (orphan-guard.ts)
    const guard = pid ? guardAttempt(KILL_GROUP, [String(pid)]) : undefined;
    const killGroup = (sig: NodeJS.Signals) => pid && killQuietly(-pid, sig);
    const output = Promise.all([
      splitLines(child.stdout, (t) => attempt.onLine('stdout', t)),
      splitLines(child.stderr, (t) => attempt.onLine('stderr', t)),
    ]);
    const exited = new Promise<ExitResult>((resolve) => {
      child.once('error', (err) => resolve({ exitCode: null, signal: null, error: `cannot start ${command[0]}: ${err.message}` }));
      child.once('exit', (code, signal) => resolve({ exitCode: code ?? signalExitCode(signal, constants.signals), signal }));
    });
    const done = exited.then(async (result) => {
      // Whatever the leader left running belongs to the attempt too; it must not outlive it on the GPU.
      killGroup('SIGKILL');
      guard?.release();
      await Promise.race([output, delay(DRAIN_AFTER_EXIT_MS)]);
      child.stdout.destroy();
      child.stderr.destroy();
      await rm(scratch, { recursive: true, force: true }).catch((err) => this.log.warn('scratch cleanup failed', { err }));
      return result;
    });
    return {
      ref: { pid },
      wait: () => done,
      stop: async (graceMs) => {
        killGroup('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), graceMs);
        const result = await done;
        clearTimeout(timer);
        return result;
      },
    };
  }

  async killLeftover(ref: { pid?: number; attemptId: string }): Promise<void> {
    if (!ref.pid) return;
    for (const pid of await attemptProcesses(ref.pid, ref.attemptId)) killQuietly(pid, 'SIGKILL');
  }

  private envFor(a: RuntimeAttempt, scratch: string): NodeJS.ProcessEnv {
    return {
      PATH: this.baseEnv.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      // HOME is the scratch dir, not the agent's: what one consumer's job caches there must not reach the next.
      HOME: scratch,
      ...a.spec.env,
      // the job's secrets, from the start answer: in the child's environment only (docs/data.md, Secrets)
      ...a.start?.secrets?.env,
      // Set last so a job cannot claim devices it was not given; empty hides every GPU from a 0-GPU job.
      CUDA_VISIBLE_DEVICES: a.devices.map((d) => d.index).join(','),
      GPUPOOL_JOB_ID: a.jobId,
      GPUPOOL_ATTEMPT_ID: a.attemptId,
      // the attempt's inputs, outputs and checkpoints (docs/data.md): host paths under the agent's state dir
      ...(a.dirs ? { GPUPOOL_INPUT_DIR: a.dirs.inputs, GPUPOOL_OUTPUT_DIR: a.dirs.outputs, GPUPOOL_CHECKPOINT_DIR: a.dirs.checkpoints } : {}),
      // a gang's rank, world size, peers and rendezvous (absent for single-node jobs)
      ...gangEnv(a.spec),
      // a service replica listens where the agent's ingress and readiness probe look: a free loopback port
      // the agent picked (the spec's port is the container's, meaningless on a shared host)
      ...(a.spec.service && a.hostPort ? { PORT: String(a.hostPort) } : {}),
      // marks the process as this node's, so a restarted agent finds it even if it never got recorded
      GPUPOOL_NODE_STATE: this.stateDir,
    };
  }
}

export function endedHandle(result: ExitResult): RuntimeHandle {
  const done = Promise.resolve(result);
  return { ref: {}, wait: () => done, stop: () => done };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
