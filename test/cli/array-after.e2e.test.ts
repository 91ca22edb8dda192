// `gpupool run --array 0-N` and `--after JOB` (issue 20) as a user runs them: the CLI in a subprocess
// against the local stack with one real agent. The range maps to N+1 jobs told their index; a range that
// does not start at 0 is a usage error (exit 2) that submits nothing; --after holds a job until its
// dependency succeeded and `jobs get` says so; `jobs ls --array` lists an array, `jobs cancel` cancels it;
// `jobs get` shows a waiting job's place in the queue.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { parseArray } from '../../bin/cli/run-spec';
import { UsageError } from '../../bin/cli/errors';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = createRequire(import.meta.url).resolve('tsx');
const entry = path.join(root, 'bin/gpupool.ts');

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let home: string;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', tsx, entry, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), NO_COLOR: '1', GPUPOOL_API_URL: pool.stack.apiUrl, GPUPOOL_API_KEY: consumer.key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'gpupool-cli-array-'));
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  await pool.addAgent({ name: 'cli-arr', gpus: '2xA100-80', providerKey: provider.key });
}, 120_000);
afterAll(async () => {
  await pool?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('parseArray', () => {
  it.each([
    ['0-99', 100],
    ['0-0', 1],
    [' 0 - 9 ', 10],
    ['0-999', 1000],
  ])('%s → %i jobs', (text, size) => expect(parseArray(text)).toEqual({ size }));
  it.each(['5-9', '1-1', '0-1000', '7', '0-', 'a-b', '-1-3', '0..9'])('%s is a usage error', (text) => expect(() => parseArray(text)).toThrow(UsageError));
  it('says what to do with a range that does not start at 0', () => expect(() => parseArray('5-9')).toThrow(/use 0-4 and add 5 to \$GPUPOOL_ARRAY_INDEX/));
});

describe('gpupool run --array and --after on the local stack', () => {
  it('--array 0-4 makes 5 jobs, each index once; jobs ls --array lists them', async () => {
    const out = path.join(home, 'indices');
    const r = await cli(['run', '--array', '0-4', '--', 'sh', '-c', `echo $GPUPOOL_ARRAY_INDEX >> ${out}`]);
    expect(r.code, r.stderr).toBe(0);
    const arrayId = r.stdout.trim();
    expect(r.stderr).toMatch(new RegExp(`Array ${arrayId}: 5 jobs .*gpupool jobs ls --array ${arrayId}`));
    await eventually(async () => {
      const items = (await consumer.api.get(`/v1/jobs?arrayId=${arrayId}`)).body.items;
      return items.length === 5 && items.every((j: any) => j.status === 'SUCCEEDED') ? true : undefined;
    }, 60_000, 'the array to succeed');
    expect(readFileSync(out, 'utf8').trim().split('\n').map(Number).sort()).toEqual([0, 1, 2, 3, 4]);
    const ls = await cli(['jobs', 'ls', '--array', arrayId, '--json']);
    expect(JSON.parse(ls.stdout).items.map((j: any) => j.array.index)).toEqual([0, 1, 2, 3, 4]);
  }, 90_000);

  it('--array 5-9 is refused (exit 2) and submits nothing', async () => {
    const before = (await consumer.api.get('/v1/jobs?limit=100')).body.items.length;
    const r = await cli(['run', '--array', '5-9', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ranges start at 0/);
    expect((await consumer.api.get('/v1/jobs?limit=100')).body.items.length).toBe(before);
  }, 30_000);

  it('--after holds the job until its dependency succeeded; jobs get says what it waits for', async () => {
    const first = await cli(['run', '--detach', '--', 'sh', '-c', 'sleep 10']);
    const firstId = first.stdout.trim();
    const second = await cli(['run', '--detach', '--after', firstId, '--', 'true']);
    expect(second.code, second.stderr).toBe(0);
    const id = second.stdout.trim();
    const get = await cli(['jobs', 'get', id]);
    expect(get.stdout).toMatch(new RegExp(`pending:\\s+waiting for job ${firstId} to succeed`));
    expect(get.stdout).toMatch(new RegExp(`after:\\s+${firstId}`));
    await eventually(async () => ((await consumer.api.get(`/v1/jobs/${id}`)).body.job.status === 'SUCCEEDED' ? true : undefined), 30_000, 'the dependent to run');
    // a dependency that failed: the dependent ends DEPENDENCY_FAILED, and jobs get names the dependency
    const bad = (await cli(['run', '--detach', '--', 'false'])).stdout.trim();
    const dep = (await cli(['run', '--detach', '--after', `${bad},${firstId}`, '--', 'true'])).stdout.trim();
    await eventually(async () => ((await consumer.api.get(`/v1/jobs/${dep}`)).body.job.status === 'FAILED' ? true : undefined), 30_000, 'the dependent to fail');
    const shown = await cli(['jobs', 'get', dep]);
    expect(shown.stdout).toMatch(/status:\s+FAILED \(DEPENDENCY_FAILED\)/);
    expect(shown.stdout).toMatch(new RegExp(`dependency:\\s+${bad} ended FAILED`));
  }, 60_000);

  it('jobs get shows a waiting job\'s place in the queue', async () => {
    const a = (await cli(['run', '--detach', '--gpu-model', 'L40S', '--', 'true'])).stdout.trim();
    const b = (await cli(['run', '--detach', '--gpu-model', 'L40S', '--', 'true'])).stdout.trim();
    expect((await cli(['jobs', 'get', a])).stdout).toMatch(/queue:\s+#1 among jobs waiting for the same GPUs \(0 job\(s\) ahead in all\), no start estimate/);
    expect((await cli(['jobs', 'get', b])).stdout).toMatch(/queue:\s+#2 among jobs waiting for the same GPUs \(1 job\(s\) ahead in all\)/);
    await cli(['jobs', 'cancel', a]);
    await cli(['jobs', 'cancel', b]);
  }, 30_000);

  it('jobs cancel ARRAY_ID cancels the members still waiting', async () => {
    const r = await cli(['run', '--array', '0-2', '--gpu-model', 'H100', '--', 'true']);
    const arrayId = r.stdout.trim();
    const c = await cli(['jobs', 'cancel', arrayId]);
    expect(c.stdout).toMatch(new RegExp(`array ${arrayId}: 3 of 3 jobs cancelled`));
  }, 30_000);
});
