// The agent killed without cleaning up (kill -9) must not leave its attempts running: the control plane
// re-places their jobs, and a copy left behind would run each job twice (docs/security.md).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../agent/log';
import { ProcessRuntime } from '../../agent/runtime/process';
import { isAlive, until } from './helpers/lines';

const stateDir = mkdtempSync(join(tmpdir(), 'gpupool-orphan-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

/** pids of guards (sh … gpupool-guard <pid>) watching process group `pgid` */
function guardsOf(pgid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const argv = (() => {
      try {
        return readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      } catch {
        return [];
      }
    })();
    if (argv.includes('gpupool-guard') && argv.includes(String(pgid))) found.push(Number(name));
  }
  return found;
}

describe('orphan guard', () => {
  it('kills the attempt (its whole process group) when the agent is killed with SIGKILL', async () => {
    const agent = spawn(process.execPath, ['--import', 'tsx', 'test/agent/helpers/runtime-child.ts', stateDir, 'sh', '-c', 'sleep 300 & sleep 300'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    agent.stdout!.on('data', (d) => (out += d));
    let pid = 0;
    await until(() => (pid = Number(/pid (\d+)/.exec(out)?.[1] ?? 0)) > 0, 20_000, 'the attempt started');
    started.push(pid);
    expect(isAlive(pid)).toBe(true);

    agent.kill('SIGKILL');
    await until(() => !isAlive(pid), 10_000, 'the attempt killed');
    // the group, children included, and the guard itself
    await until(() => guardsOf(pid).length === 0, 10_000, 'the guard gone');
    expect(isAlive(pid)).toBe(false);
  });

  it('goes away with the attempt when it ends normally, leaving nothing behind', async () => {
    const runtime = new ProcessRuntime(stateDir, silentLogger, { PATH: process.env.PATH });
    const handle = runtime.start({ jobId: 'job2', attemptId: 'att2', spec: { command: ['sleep', '0.2'], env: {}, gpus: 0, maxDurationSeconds: 60 }, devices: [], onLine: () => undefined });
    const pid = handle.ref.pid!;
    expect(guardsOf(pid)).toHaveLength(1);
    expect(await handle.wait()).toEqual({ exitCode: 0, signal: null });
    await until(() => guardsOf(pid).length === 0, 5_000, 'the guard gone');
  });
});
