import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AttemptSpec } from '../../functions/domain/agent-protocol';
import type { GpuDevice } from '../../functions/domain/model';
import { silentLogger } from '../../agent/log';
import { ProcessRuntime } from '../../agent/runtime/process';
import { isAlive, lineCollector, until } from './helpers/lines';

const stateDir = mkdtempSync(join(tmpdir(), 'gpupool-proc-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const runtime = new ProcessRuntime(stateDir, silentLogger, { PATH: process.env.PATH, HOME: '/agent-home', SECRET: 'agent-only' });
const gpu = (index: number): GpuDevice => ({ index, uuid: `GPU-${index}`, model: 'A100', vramGb: 80 });
let n = 0;

function start(command: string[], extra: Partial<AttemptSpec> = {}, devices: GpuDevice[] = []) {
  const out = lineCollector();
  const attemptId = `att${++n}`;
  const spec: AttemptSpec = { command, env: {}, gpus: devices.length, maxDurationSeconds: 60, ...extra };
  const handle = runtime.start({ jobId: 'job1', attemptId, spec, devices, onLine: out.onLine });
  return { out, handle, attemptId };
}

describe('process runtime', () => {
  it('streams output lines in order per stream and reports the exit code', async () => {
    const { out, handle } = start(['sh', '-c', 'for i in 1 2 3; do echo out$i; done; echo err1 >&2; printf tail; exit 3']);
    expect(await handle.wait()).toEqual({ exitCode: 3, signal: null });
    expect(out.text('stdout')).toEqual(['out1', 'out2', 'out3', 'tail']);
    expect(out.text('stderr')).toEqual(['err1']);
  });

  it('passes arguments verbatim, without a shell', async () => {
    const { out, handle } = start(['printf', '%s\\n', 'a b', '$HOME', '*']);
    await handle.wait();
    expect(out.text('stdout')).toEqual(['a b', '$HOME', '*']);
  });

  it('gives a minimal env with its devices and ids, in a scratch dir removed afterwards', async () => {
    const { out, handle, attemptId } = start(['sh', '-c', 'env; pwd'], { env: { FOO: 'bar', CUDA_VISIBLE_DEVICES: '0,1,2,3' } }, [gpu(2), gpu(5)]);
    await handle.wait();
    const lines = out.text('stdout');
    const scratch = join(stateDir, 'work', attemptId);
    expect(lines).toEqual(expect.arrayContaining(['FOO=bar', 'CUDA_VISIBLE_DEVICES=2,5', 'GPUPOOL_JOB_ID=job1', `GPUPOOL_ATTEMPT_ID=${attemptId}`, `HOME=${scratch}`, scratch]));
    expect(lines.some((l) => l.startsWith('SECRET='))).toBe(false);
    expect(existsSync(scratch)).toBe(false);
  });

  it('hides every GPU from a job that asked for none', async () => {
    const { out, handle } = start(['sh', '-c', 'echo "[$CUDA_VISIBLE_DEVICES]"']);
    await handle.wait();
    expect(out.text('stdout')).toEqual(['[]']);
  });

  it('stop() sends SIGTERM to the whole process group, children included', async () => {
    const { out, handle } = start(['sh', '-c', 'sleep 30 & echo child=$!; wait']);
    const child = Number((await out.waitFor(/^child=/)).slice(6));
    expect(isAlive(child)).toBe(true);
    const result = await handle.stop(5_000);
    expect(result).toEqual({ exitCode: 143, signal: 'SIGTERM' });
    await until(() => !isAlive(child), 2_000, 'child sleep to die');
  });

  it('stop() follows up with SIGKILL after the grace period', async () => {
    const { out, handle } = start(['sh', '-c', 'trap "" TERM; echo ready; sleep 30; echo survived']);
    await out.waitFor(/^ready$/);
    const t0 = Date.now();
    expect(await handle.stop(300)).toEqual({ exitCode: 137, signal: 'SIGKILL' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(out.text('stdout')).not.toContain('survived');
  });

  it('kills what the job left running when it exits', async () => {
    const { out, handle } = start(['sh', '-c', 'sleep 30 & echo child=$!']);
    expect((await handle.wait()).exitCode).toBe(0);
    const child = Number(out.text('stdout')[0].slice(6));
    await until(() => !isAlive(child), 2_000, 'orphaned sleep to die');
  });

  it('cuts lines longer than the protocol allows', async () => {
    const { out, handle } = start(['sh', '-c', 'head -c 40000 /dev/zero | tr "\\0" x; echo']);
    await handle.wait();
    expect(out.text('stdout').map((l) => l.length)).toEqual([16_384, 16_384, 7_232]);
  });

  it('reports a command that cannot start as an error', async () => {
    const { handle } = start(['/no/such/binary']);
    const r = await handle.wait();
    expect(r.exitCode).toBeNull();
    expect(r.error).toMatch(/cannot start \/no\/such\/binary: .*ENOENT/);
  });

  it('refuses an empty command', async () => {
    const { handle } = start([]);
    expect(await handle.wait()).toEqual({ exitCode: null, signal: null, error: 'process runtime needs a command' });
  });
});
