// The CLI as people get it without a checkout, run with plain `node` (no tsx) against the local stack:
//  1. from a packed package: the package.json `prepack` build, `npm pack`, `npm install -g` into a temp
//     prefix, then the installed `gpupool` bin (and `import … from 'gpupool'`, the client library);
//  2. downloaded from the API: GET /cli/gpupool.mjs into an empty directory, then `node gpupool.mjs`.
// `npm pack` here skips the lifecycle scripts after running `prepack` itself: that is the build of
// everything the package holds; `prepare` only builds the web console, which `files` leaves out (checked below).
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPool, type Pool } from '../helpers/local-pool';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string>; files: string[] };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let tmp: string;
let prefix: string;
let packed: { filename: string; files: { path: string }[] };
let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;

/** `file args…` with nothing of the checkout around: a temp HOME and cwd, and on PATH only this node and the system's tools. */
function sh(file: string, args: string[], o: { cwd?: string; home?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const home = o.home ?? mkdtempSync(path.join(tmp, 'home-'));
  const child = spawn(file, args, {
    cwd: o.cwd ?? home,
    env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), NO_COLOR: '1', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'gpupool-pack-'));
  prefix = path.join(tmp, 'prefix');
  // what `npm pack` runs first: the bundles of the CLI, the client and the agent, and the client's types
  expect(pkg.scripts.prepack).toBe('tsx scripts/build-cli.ts --pack');
  await run(npm, ['run', '--silent', 'prepack'], { cwd: root, timeout: 240_000 });
  const out = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: root, timeout: 120_000 });
  [packed] = JSON.parse(out.stdout);
  // its one dependency (zod, for the client types) comes from the npm cache when it has it
  await run(npm, ['install', '-g', '--prefix', prefix, path.join(tmp, packed.filename), '--prefer-offline', '--no-audit', '--no-fund'], { cwd: tmp, timeout: 300_000 });
  pool = await startPool();
  let provider;
  [consumer, provider] = await Promise.all([pool.newAccount('consumer', 'pack-consumer'), pool.newAccount('provider', 'pack-provider')]);
  await pool.addAgent({ name: 'pack-a100', gpus: '1xA100-80', providerKey: provider.key });
}, 600_000);

afterAll(async () => {
  await pool?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** login, then one job to its end: what a new user does first (one HOME, where login saves the profile). */
async function firstJob(gpupool: (args: string[], home: string) => ReturnType<typeof sh>) {
  const home = mkdtempSync(path.join(tmp, 'user-'));
  const login = await gpupool(['login', '--api', pool.stack.apiUrl, '--key', consumer.key], home);
  expect(login.stderr).not.toMatch(/error/);
  expect(login.code).toBe(0);
  // the key's account and role, from GET /v1/balance: no --account needed
  expect(login.stdout).toMatch(new RegExp(`Logged in to ${pool.stack.apiUrl} as profile "default" \\(account ${consumer.id}, role consumer\\)`));
  const job = await gpupool(['run', '--gpus', '1', '--', 'sh', '-c', 'echo hello from $CUDA_VISIBLE_DEVICES'], home);
  expect(job.stdout, job.stderr).toBe('hello from 0\n');
  expect(job.stderr).toMatch(/SUCCEEDED, exit code 0/);
  expect(job.code).toBe(0);
}

describe('the packed package, installed with npm install -g', () => {
  it('holds the bundles and the client types only, with bins that are the bundles', () => {
    const paths = packed.files.map((f) => f.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'dist/gpupool.mjs', 'dist/gpupool-agent.mjs', 'dist/client.mjs', 'dist/types/client/index.d.ts']));
    for (const p of paths) expect(p === 'package.json' || p === 'README.md' || p.startsWith('dist/gpupool') || p === 'dist/client.mjs' || p.startsWith('dist/types/'), p).toBe(true);
    expect(pkg.files).not.toContain('dist/console');
    // the bundles carry what they use: the one dependency installed with them is zod (the client's types name it)
    expect(readdirSync(path.join(prefix, 'lib', 'node_modules', 'gpupool', 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['zod']);
  });

  it('gpupool --version runs with plain node: as the installed bin and as node <bundle>', async () => {
    const bin = path.join(prefix, 'bin', 'gpupool');
    expect((await sh(bin, ['--version'])).stdout).toBe(`${pkg.version}\n`);
    const bundle = path.join(prefix, 'lib', 'node_modules', 'gpupool', 'dist', 'gpupool.mjs');
    expect(await sh(process.execPath, [bundle, '--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    // the agent bin is the agent: without settings it says what it needs and exits 2 (docs/agent-hosts.md)
    const agent = await sh(path.join(prefix, 'bin', 'gpupool-agent'), []);
    expect(agent, agent.stderr).toMatchObject({ code: 2, stderr: expect.stringMatching(/GPUPOOL_API_URL/) });
  });

  it('logs in and runs a job on the local stack', async () => {
    await firstJob((args, home) => sh(path.join(prefix, 'bin', 'gpupool'), args, { home }));
  }, 60_000);

  it('an application imports the typed client from the package, type-checks against it (nodenext, strict) and calls the API', async () => {
    // a project that depends on the package: node_modules/gpupool is the installed one
    const app = path.join(tmp, 'app');
    mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    symlinkSync(path.join(prefix, 'lib', 'node_modules', 'gpupool'), path.join(app, 'node_modules', 'gpupool'));
    writeFileSync(path.join(app, 'package.json'), '{"type": "module"}');
    writeFileSync(
      path.join(app, 'app.ts'),
      `import { ApiError, GpupoolClient, type Job, type StakeAnswer as Stake, type SubmitJobRequest } from 'gpupool';
const c = new GpupoolClient({ baseUrl: 'http://127.0.0.1:8787', apiKey: 'gp_key' });
const spec: SubmitJobRequest = { command: ['echo', 'hi'], resources: { gpus: 1 } };
const job: Job = (await c.submitJob(spec)).job;
const charged: number = job.cost.charged;
// @ts-expect-error: gpus is a number in the API's schema
const wrong: SubmitJobRequest = { command: ['x'], resources: { gpus: 'one' } };
// answers are the API's response schemas (client/types.ts): every field they name is typed
const recent: number = (await c.offers()).items[0].recentStarts;
const staked: Stake = await c.stake(1);
const free: number = staked.stakeFree;
// @ts-expect-error: the stake answer names no account (only GET /v1/balance does)
const who: string = staked.accountId;
export { charged, wrong, recent, free, who, ApiError };
`,
    );
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, lib: ['es2023', 'dom'], types: [] }, files: ['app.ts'] }),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const typed = await sh(process.execPath, [tsc, '-p', app], { cwd: app });
    expect(typed.stdout + typed.stderr).toBe('');
    expect(typed.code).toBe(0);

    writeFileSync(
      path.join(app, 'app.mjs'),
      `import { GpupoolClient, ApiError } from 'gpupool';
const c = new GpupoolClient({ baseUrl: process.argv[2], apiKey: process.argv[3] });
const b = await c.balance();
const missing = await c.getJob('nope').catch((e) => e);
console.log(JSON.stringify({ accountId: b.accountId, role: b.role, missing: missing instanceof ApiError ? missing.status : String(missing) }));
`,
    );
    const r = await sh(process.execPath, [path.join(app, 'app.mjs'), pool.stack.apiUrl, consumer.key], { cwd: app });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ accountId: consumer.id, role: 'consumer', missing: 404 });
  }, 60_000);
});

describe('the CLI downloaded from the API', () => {
  it('GET /cli/gpupool.mjs serves the bundle, which runs alone with plain node', async () => {
    const res = await fetch(`${pool.stack.apiUrl}/cli/gpupool.mjs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    const dir = mkdtempSync(path.join(tmp, 'download-'));
    const file = path.join(dir, 'gpupool.mjs');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    expect(await sh(process.execPath, [file, '--version'], { cwd: dir })).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    await firstJob((args, home) => sh(process.execPath, [file, ...args], { cwd: dir, home }));
  }, 60_000);
});
