// The agent killed without cleaning up (kill -9) must not leave its attempts running: the control plane
// re-places their jobs, and a copy left behind would run each job twice (docs/security.md).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerEngine, engineTitle, TEST_IMAGE } from '../helpers/docker-engine';
import { guardPids } from '../helpers/procs';
import { silentLogger } from '../../agent/log';
import { ProcessRuntime } from '../../agent/runtime/process';
import { isAlive, until } from './helpers/lines';

const engine = await dockerEngine();
const stateDir = mkdtempSync(join(tmpdir(), 'gpupool-orphan-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

/** Starts the stand-in agent (helpers/runtime-child.ts); resolves with what it printed about the attempt. */
async function childAgent(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const agent = spawn(process.execPath, ['--import', 'tsx', 'test/agent/helpers/runtime-child.ts', stateDir, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  agent.stdout!.on('data', (d) => (out += d));
  await until(() => /\n/.test(out), 20_000, 'the attempt started');
  return { agent, printed: out.trim() };
}

describe('orphan guard', () => {
  it('kills the attempt (its whole process group) when the agent is killed with SIGKILL', async () => {
    const { agent, printed } = await childAgent(['sh', '-c', 'sleep 300 & sleep 300']);
    const pid = Number(/^pid (\d+)$/.exec(printed)?.[1]);
    started.push(pid);
    expect(isAlive(pid)).toBe(true);

    agent.kill('SIGKILL');
    await until(() => !isAlive(pid), 10_000, 'the attempt killed');
    // the group, children included, and the guard itself
    await until(() => guardPids(String(pid)).length === 0, 10_000, 'the guard gone');
    expect(isAlive(pid)).toBe(false);
  });

  it('goes away with the attempt when it ends normally, leaving nothing behind', async () => {
    const runtime = new ProcessRuntime(stateDir, silentLogger, { PATH: process.env.PATH });
    const handle = runtime.start({ jobId: 'job2', attemptId: 'att2', spec: { command: ['sleep', '0.2'], env: {}, gpus: 0, maxDurationSeconds: 60 }, devices: [], onLine: () => undefined });
    const pid = handle.ref.pid!;
    expect(guardPids(String(pid))).toHaveLength(1);
    expect(await handle.wait()).toEqual({ exitCode: 0, signal: null });
    await until(() => guardPids(String(pid)).length === 0, 5_000, 'the guard gone');
  });

  describe.skipIf('skip' in engine)(engineTitle('on a real Docker Engine', engine), () => {
    it('removes the container when the agent is killed with SIGKILL', async () => {
      if ('skip' in engine) return;
      const { agent, printed } = await childAgent(['sleep', '300'], { ...process.env, DOCKER_HOST: engine.host, GPUPOOL_CHILD_IMAGE: TEST_IMAGE });
      const container = /^container (\S+)$/.exec(printed)![1];
      const running = async () => (await engine.docker('ps', '-q', '--filter', `name=^${container}$`)).stdout.trim() !== '';
      try {
        await until(running, 30_000, 'the container running');
        agent.kill('SIGKILL');
        await until(async () => !(await running()), 20_000, 'the container removed');
      } finally {
        agent.kill('SIGKILL');
        await engine.docker('rm', '-f', container);
      }
    });
  });
});
