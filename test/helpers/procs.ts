// Finds processes of a job attempt by the GPUPOOL_ATTEMPT_ID the agent puts in their environment, so a
// test can prove nothing of a cancelled, timed-out or fenced attempt is left running.
import { readdirSync, readFileSync } from 'node:fs';

export function pidsOfAttempt(attemptId: string): number[] {
  const needle = `GPUPOOL_ATTEMPT_ID=${attemptId}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (env.includes(needle)) pids.push(Number(entry));
    } catch {
      /* the process ended, or is not ours to read */
    }
  }
  return pids;
}

/** Pids of the agent's orphan guards (agent/runtime/orphan-guard.ts) whose arguments include `arg` (a pgid or a container name). */
export function guardPids(arg: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes('gpupool-guard') && argv.includes(arg)) pids.push(Number(entry));
    } catch {
      /* the process ended */
    }
  }
  return pids;
}
