// Finding what a previous agent run left behind. A pid from attempts.json may belong to someone else after
// a reboot or pid reuse, so a process is only killed when its environment carries the attempt's marker
// (GPUPOOL_ATTEMPT_ID, set by the process runtime). Linux-only: without /proc nothing is killed.
import { readdir, readFile } from 'node:fs/promises';

/** Pids in process group `pgid` whose environment says they belong to `attemptId`. */
export async function attemptProcesses(pgid: number, attemptId: string, proc = '/proc'): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir(proc);
  } catch {
    return [];
  }
  const marker = `GPUPOOL_ATTEMPT_ID=${attemptId}\0`;
  const found: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    if ((await processGroup(proc, name)) !== pgid) continue;
    const environ = await readFile(`${proc}/${name}/environ`, 'utf8').catch(() => '');
    if (environ.includes(marker)) found.push(Number(name));
  }
  return found;
}

async function processGroup(proc: string, pid: string): Promise<number | undefined> {
  const stat = await readFile(`${proc}/${pid}/stat`, 'utf8').catch(() => '');
  // `pid (comm) state ppid pgrp …`: comm may hold spaces and parens, so count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const pgrp = Number(fields[2]);
  return Number.isInteger(pgrp) ? pgrp : undefined;
}

/**
 * Pids whose environment carries `GPUPOOL_NODE_STATE=<stateDir>`: every process this node's agent ever
 * started, including one spawned just before a crash and never written to attempts.json.
 */
export async function ownedProcesses(stateDir: string, proc = '/proc'): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir(proc);
  } catch {
    return [];
  }
  const marker = `\0GPUPOOL_NODE_STATE=${stateDir}\0`;
  const found: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const environ = await readFile(`${proc}/${name}/environ`, 'utf8').catch(() => '');
    if (`\0${environ}`.includes(marker)) found.push(Number(name));
  }
  return found;
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone (ESRCH) or not ours (EPERM): nothing more to do
  }
}
