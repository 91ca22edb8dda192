// What the agent started must not outlive it. Killed without a chance to clean up (kill -9, the OOM
// killer, a crash), the agent leaves its attempts running: the control plane places their jobs elsewhere
// once the node's lease runs out, and the old copies would keep the GPUs and run the jobs twice until
// someone restarted the agent. A guard per attempt, a tiny shell, holds the read end of a pipe whose only
// writer is the agent: the kernel closes it when the agent dies, however it dies, and the guard then runs
// its kill command. While the agent lives, the guard waits; when the attempt ends, the agent ends it.
import { spawn } from 'node:child_process';

export interface OrphanGuard {
  /** the attempt ended normally: the guard goes away without running its command */
  release(): void;
}

/**
 * Runs `command` (a /bin/sh script: `$1`… are `args`, never re-parsed) once the agent is gone. Its own
 * process group, so that a signal to the attempt's group or the agent's never reaches it first.
 */
export function guardAttempt(command: string, args: string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH }): OrphanGuard {
  // `read` returns only at end of input: the agent writes nothing, so that is the agent's death
  const guard = spawn('/bin/sh', ['-c', `read _ignored; ${command}`, 'gpupool-guard', ...args], { detached: true, env, stdio: ['pipe', 'ignore', 'ignore'] });
  // without a shell there is no guard; a restarted agent still kills what it finds (leftovers.ts)
  guard.on('error', () => undefined);
  guard.stdin!.on('error', () => undefined);
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void }).unref?.();
  return { release: () => void guard.kill('SIGKILL') };
}

/** The shell command that kills the process group `$1` (dash, bash and busybox all take this form). */
export const KILL_GROUP = 'kill -KILL "-$1"';
