// Runs bin/gpupool-agent.ts as a real child process (node --import tsx), for what only a process shows:
// signals and exit codes.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface AgentProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  waitForStdout(re: RegExp, ms?: number): Promise<void>;
}

export function spawnAgent(env: Record<string, string>): AgentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/gpupool-agent.ts'], {
    cwd: ROOT,
    // Only what the agent needs: a GPUPOOL_* variable leaking in from the developer's shell must not count.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStdout(re, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`agent printed no ${re} within ${ms} ms; stderr:\n${err}`)), ms);
        const check = () => {
          if (!re.test(out)) return;
          clearTimeout(timer);
          child.stdout!.off('data', check);
          resolve();
        };
        child.stdout!.on('data', check);
        check();
        void exited.then(() => {
          clearTimeout(timer);
          if (!re.test(out)) reject(new Error(`agent exited before printing ${re}; stderr:\n${err}`));
        });
      });
    },
  };
}
