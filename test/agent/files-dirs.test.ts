// The attempt's file dirs in each runtime, and the outputs walk's defences against a job that plays with
// symlinks (agent/files/walk.ts).
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerRunArgs } from '../../agent/runtime/docker';
import { ProcessRuntime } from '../../agent/runtime/process';
import { openWalked, walkFiles } from '../../agent/files/walk';
import type { RuntimeAttempt } from '../../agent/runtime/types';
import { silentLogger } from '../../agent/log';

const root = mkdtempSync(join(tmpdir(), 'gpupool-files-dirs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const dirs = { inputs: join(root, 'in'), outputs: join(root, 'out'), checkpoints: join(root, 'ck') };
const attempt = (command: string[]): Omit<RuntimeAttempt, 'onLine'> => ({
  jobId: 'j1',
  attemptId: 'a1',
  devices: [],
  dirs,
  spec: { image: 'busybox:1', command, env: { GPUPOOL_OUTPUT_DIR: '/etc' } as Record<string, string>, gpus: 0, maxDurationSeconds: 60 },
});

describe('attempt dirs in the runtimes', () => {
  it('docker: bind mounts at /inputs (read-only), /outputs, /checkpoints, and the env vars name those paths', () => {
    const args = dockerRunArgs(attempt(['true']));
    expect(args).toEqual(expect.arrayContaining([`type=bind,src=${dirs.inputs},dst=/inputs,readonly`, `type=bind,src=${dirs.outputs},dst=/outputs`, `type=bind,src=${dirs.checkpoints},dst=/checkpoints`]));
    const env = args.filter((_, i) => args[i - 1] === '-e');
    expect(env).toEqual(expect.arrayContaining(['GPUPOOL_INPUT_DIR=/inputs', 'GPUPOOL_OUTPUT_DIR=/outputs', 'GPUPOOL_CHECKPOINT_DIR=/checkpoints']));
    // the job cannot point the agent elsewhere: its own GPUPOOL_* value is not passed
    expect(env).not.toContain('GPUPOOL_OUTPUT_DIR=/etc');
  });

  it('process: the env vars are the host dirs, set after the job env', async () => {
    const lines: string[] = [];
    const rt = new ProcessRuntime(join(root, 'state'), silentLogger);
    const h = rt.start({ ...attempt(['sh', '-c', 'echo "$GPUPOOL_INPUT_DIR|$GPUPOOL_OUTPUT_DIR|$GPUPOOL_CHECKPOINT_DIR"']), onLine: (_s, t) => lines.push(t) });
    expect((await h.wait()).exitCode).toBe(0);
    expect(lines).toEqual([`${dirs.inputs}|${dirs.outputs}|${dirs.checkpoints}`]);
  });
});

describe('the outputs walk', () => {
  it('lists regular files only: symlinks (to files or dirs) and FIFOs are left out and named', async () => {
    const d = join(root, 'walk1');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'sub', 'ok.txt'), 'ok');
    symlinkSync('/etc/passwd', join(d, 'passwd'));
    symlinkSync('/etc', join(d, 'etc'));
    const w = await walkFiles(d, 10);
    expect(w.files.map((f) => f.path)).toEqual(['sub/ok.txt']);
    expect(w.skipped.sort()).toEqual(['etc (symlink)', 'passwd (symlink)']);
  });

  it('refuses a file whose directory was swapped for a symlink after the walk', async () => {
    const d = join(root, 'walk2');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'sub', 'passwd'), 'mine');
    const [f] = (await walkFiles(d, 10)).files;
    renameSync(join(d, 'sub'), join(d, 'moved'));
    symlinkSync('/etc', join(d, 'sub'));
    await expect(openWalked(d, f)).rejects.toThrow(/changed while it was being read/);
  });

  it('stops at the count limit and says so', async () => {
    const d = join(root, 'walk3');
    mkdirSync(d);
    for (let i = 0; i < 5; i++) writeFileSync(join(d, `f${i}`), String(i));
    const w = await walkFiles(d, 3);
    expect(w.files).toHaveLength(3);
    expect(w.skipped).toEqual(['f3 (more than 3 files)', 'f4 (more than 3 files)']);
  });
});
