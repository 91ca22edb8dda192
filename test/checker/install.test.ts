// The checker's install script (checker-client/install-checker.sh) and `gpupool-checker --check`, against the
// local stack's gateway over real HTTP: the script, piped from GET /checker/install.sh, downloads the bundle
// from GET /checker/gpupool-checker.mjs, checks it against the served SHA-256, runs the bundle's --check with
// the key, and writes the settings, the bundle and a hardened unit under a temp --root. Tools on a PATH that
// holds nothing else, with a fake systemctl. Also: a tampered bundle, a refused key, uninstall, shellcheck and
// systemd-analyze.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKER_INSTALL_SCRIPT } from '../../functions/http/install-checker-script.generated';
import { buildChecker, CHECKER_INSTALL_SCRIPT_MODULE, checkerInstallScriptModule, servedCheckerInstallScript } from '../../scripts/build-checker';
import { REPO_ROOT } from '../../scripts/build-agent';
import { FAKE_BIN } from '../agent/helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

const SCRIPT = join(REPO_ROOT, 'checker-client/install-checker.sh');
const UNIT = join(REPO_ROOT, 'checker-client/gpupool-checker.service');
const TOOLS = ['bash', 'sed', 'head', 'tr', 'grep', 'mktemp', 'install', 'mv', 'chmod', 'cat', 'rm', 'rmdir', 'wc', 'dirname', 'mkdir', 'sha256sum', 'env'];
const HAS_SHELLCHECK = spawnSync('shellcheck', ['--version']).status === 0;
const HAS_SYSTEMD_ANALYZE = spawnSync('systemd-analyze', ['--version']).status === 0;

const dirs: string[] = [];
const tempDir = (prefix = 'gpupool-checker-install-') => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

let pool: Pool;
let toolsDir: string;
let bundle: Buffer;
let holder: { id: string; key: string };
let licenseId: string;
let nobody: { id: string; key: string };

beforeAll(async () => {
  toolsDir = tempDir('gpupool-tools-');
  for (const tool of TOOLS) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (!found) throw new Error(`the install tests need ${tool} on PATH`);
    symlinkSync(found, join(toolsDir, tool));
  }
  symlinkSync(process.execPath, join(toolsDir, 'node'));
  // the real bundle, served by the gateway from where the env var points (as the Lambda serves the one beside it)
  const out = join(tempDir('gpupool-checker-bundle-'), 'gpupool-checker.mjs');
  await buildChecker(undefined, out);
  bundle = readFileSync(out);
  process.env.GPUPOOL_CHECKER_BUNDLE = out;
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
  holder = await pool.newAccount('consumer', 'checker host', false);
  nobody = await pool.newAccount('provider', 'no license', false);
  licenseId = (await pool.admin.post('/v1/licenses', { account: holder.id, count: 1 })).body.items[0].id;
}, 120_000);

afterAll(async () => {
  delete process.env.GPUPOOL_CHECKER_BUNDLE;
  await pool?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Host {
  root: string;
  env: Record<string, string>;
  systemctl: () => string;
}

function fakeHost(): Host {
  const root = tempDir();
  const logs = tempDir('gpupool-logs-');
  return {
    root,
    env: { PATH: `${toolsDir}:${FAKE_BIN}`, HOME: root, TMPDIR: logs, FAKE_SYSTEMCTL_LOG: join(logs, 'systemctl.log') },
    systemctl: () => (existsSync(join(logs, 'systemctl.log')) ? readFileSync(join(logs, 'systemctl.log'), 'utf8') : ''),
  };
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProcess(cmd: string, args: string[], env: Record<string, string>, stdin = ''): Promise<Result> {
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The served script piped into bash (no file next to it: the bundle comes from the API), or the file itself. */
const install = (host: Host, args: string[], o: { piped?: boolean } = { piped: true }) =>
  o.piped ? runProcess(join(toolsDir, 'bash'), ['-s', '--', '--root', host.root, ...args], host.env, CHECKER_INSTALL_SCRIPT) : runProcess(join(toolsDir, 'bash'), [SCRIPT, '--root', host.root, ...args], host.env);

const written = (host: Host) => ['opt/gpupool', 'etc/gpupool', 'etc/systemd/system/gpupool-checker.service'].filter((p) => existsSync(join(host.root, p)));

const HARDENING = [
  'DynamicUser=yes', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes',
  'CapabilityBoundingSet=', 'RestartPreventExitStatus=2', 'Restart=always', 'StateDirectory=gpupool-checker', 'UMask=0077',
  'EnvironmentFile=/etc/gpupool/checker.env', 'Environment=GPUPOOL_CHECKER_STATE_DIR=/var/lib/gpupool-checker',
];

describe('install-checker.sh against the local gateway', () => {
  it('downloads the bundle, checks its SHA-256 and the key, and installs the settings (600) and a hardened unit', async () => {
    const host = fakeHost();
    const r = await install(host, ['--api-url', pool.stack.apiUrl, '--checker-key', holder.key, '--no-systemd']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`downloaded the checker from ${pool.stack.apiUrl}/checker/gpupool-checker.mjs`);
    expect(r.stdout).toContain(`checker bundle verified: SHA-256 ${sha256(bundle)}`);
    expect(r.stdout).toContain(`key accepted: runs 1 license(s): ${licenseId}`);

    const installed = join(host.root, 'opt/gpupool/gpupool-checker.mjs');
    expect(readFileSync(installed).equals(bundle)).toBe(true);
    expect(mode(installed)).toBe('755');
    const envFile = join(host.root, 'etc/gpupool/checker.env');
    expect(mode(envFile)).toBe('600');
    expect(readFileSync(envFile, 'utf8').split('\n').filter((l) => l.startsWith('GPUPOOL_'))).toEqual([`GPUPOOL_API_URL=${pool.stack.apiUrl}`, `GPUPOOL_CHECKER_KEY=${holder.key}`]);
    const unitFile = join(host.root, 'etc/systemd/system/gpupool-checker.service');
    expect(mode(unitFile)).toBe('644');
    const unit = readFileSync(unitFile, 'utf8').split('\n');
    for (const line of HARDENING) expect(unit).toContain(line);
    expect(unit).toContain(`ExecStart=${join(toolsDir, 'node')} /opt/gpupool/gpupool-checker.mjs`);
    // --check writes nothing: the key is made by the service at its first start, as its own user
    expect(existsSync(join(host.root, 'var/lib/gpupool-checker'))).toBe(false);
    expect(host.systemctl()).toBe('');
  }, 60_000);

  it('with systemd: reloads, enables and restarts the service; a re-run keeps the settings it is not given', async () => {
    const host = fakeHost();
    const first = await install(host, ['--api-url', pool.stack.apiUrl, '--checker-key', holder.key, '--license', licenseId, '--poll-seconds', '5']);
    expect(first.code, first.stderr).toBe(0);
    expect(host.systemctl().split('\n')).toEqual(['daemon-reload', 'enable gpupool-checker.service', 'restart gpupool-checker.service', '']);
    const again = await install(host, ['--poll-seconds', '3', '--no-systemd'], { piped: false });
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(host.root, 'etc/gpupool/checker.env'), 'utf8').split('\n').filter((l) => l.startsWith('GPUPOOL_'))).toEqual([
      `GPUPOOL_API_URL=${pool.stack.apiUrl}`,
      `GPUPOOL_CHECKER_KEY=${holder.key}`,
      `GPUPOOL_CHECKER_LICENSE=${licenseId}`,
      'GPUPOOL_CHECKER_POLL_SECONDS=3',
    ]);
  }, 60_000);

  it('refuses a bundle whose SHA-256 is not the served digest (a tampered download), writing nothing', async () => {
    // an API that serves the real digest but a bundle with one line added
    const server = createServer((req, res) => {
      if (req.url === '/checker/gpupool-checker.mjs') res.end(Buffer.concat([bundle, Buffer.from('\nfetch("https://evil.example/");\n')]));
      else if (req.url === '/checker/gpupool-checker.mjs.sha256') res.end(`${sha256(bundle)}  gpupool-checker.mjs\n`);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const host = fakeHost();
      const r = await install(host, ['--api-url', `http://127.0.0.1:${(server.address() as AddressInfo).port}`, '--checker-key', holder.key, '--no-systemd']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`not ${sha256(bundle)}: refusing to install it`);
      expect(written(host)).toEqual([]);
      // and a digest given out of band is checked the same way against the real API's bundle
      const r2 = await install(host, ['--api-url', pool.stack.apiUrl, '--checker-key', holder.key, '--checker-sha256', '0'.repeat(64), '--no-systemd']);
      expect(r2.code).toBe(1);
      expect(r2.stderr).toContain('refusing to install it');
      expect(written(host)).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 60_000);

  it('writes nothing when the API refuses the key, when settings are bad, or when the URL is clear text to another host', async () => {
    const host = fakeHost();
    const refused = await install(host, ['--api-url', pool.stack.apiUrl, '--checker-key', 'gp_nosuchkey0000_secretsecretsecretsecret1', '--no-systemd']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the API refuses GPUPOOL_CHECKER_KEY (HTTP 401)');
    expect(refused.stderr).toContain('nothing installed');
    const notMine = await install(host, ['--api-url', pool.stack.apiUrl, '--checker-key', nobody.key, '--license', licenseId, '--no-systemd']);
    expect(notMine.code).toBe(1);
    expect(notMine.stderr).toContain(`GPUPOOL_CHECKER_LICENSE=${licenseId} is not a license this key holds undelegated or operates`);
    const noKey = await install(host, ['--api-url', pool.stack.apiUrl, '--no-systemd']);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('--checker-key is required');
    const injected = await install(host, ['--api-url', pool.stack.apiUrl, '--checker-key', 'gp_x\nGPUPOOL_SIMULATED_DISHONEST=reports', '--no-systemd']);
    expect(injected.code).toBe(1);
    expect(injected.stderr).toContain('GPUPOOL_CHECKER_KEY does not match');
    const clear = await install(host, ['--api-url', 'http://api.example.com', '--checker-key', holder.key, '--no-systemd']);
    expect(clear.code).toBe(1);
    expect(clear.stderr).toContain('is http://: use https://');
    expect(written(host)).toEqual([]);
  }, 60_000);

  it('--uninstall stops and removes the checker, its settings and its key, and leaves the agent\'s files', async () => {
    const host = fakeHost();
    expect((await install(host, ['--api-url', pool.stack.apiUrl, '--checker-key', holder.key, '--no-systemd'])).code).toBe(0);
    writeFileSync(join(host.root, 'etc/gpupool/agent.env'), 'GPUPOOL_API_URL=x\n');
    mkdirSync(join(host.root, 'var/lib/gpupool-checker'), { recursive: true });
    writeFileSync(join(host.root, 'var/lib/gpupool-checker/checker-key.pem'), 'key');
    const r = await install(host, ['--uninstall']);
    expect(r.code, r.stderr).toBe(0);
    expect(host.systemctl().split('\n')).toEqual(['disable --now gpupool-checker.service', 'daemon-reload', '']);
    expect(written(host)).toEqual(['etc/gpupool']);
    expect(existsSync(join(host.root, 'etc/gpupool/agent.env'))).toBe(true);
    expect(existsSync(join(host.root, 'etc/gpupool/checker.env'))).toBe(false);
    expect(existsSync(join(host.root, 'var/lib/gpupool-checker'))).toBe(false);
  }, 60_000);
});

describe('gpupool-checker --check', () => {
  const check = (env: Record<string, string>) =>
    runProcess(process.execPath, [process.env.GPUPOOL_CHECKER_BUNDLE!, '--check'], { PATH: process.env.PATH ?? '', GPUPOOL_CHECKER_STATE_DIR: join(tempDir(), 'state'), ...env });

  it('exits 0 with a key the API takes, naming the licenses it runs (or that it waits for one)', async () => {
    const ok = await check({ GPUPOOL_API_URL: pool.stack.apiUrl, GPUPOOL_CHECKER_KEY: holder.key });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`gpupool-checker: API ${pool.stack.apiUrl}: HTTP 200`);
    expect(ok.stdout).toContain(`key accepted: runs 1 license(s): ${licenseId}`);
    expect(ok.stdout).toContain('checker key: none yet');
    const waiting = await check({ GPUPOOL_API_URL: pool.stack.apiUrl, GPUPOOL_CHECKER_KEY: nobody.key });
    expect(waiting.code).toBe(0);
    expect(waiting.stdout).toContain('runs no active checker license yet');
  }, 30_000);

  it('exits 2 for bad settings or a refused key, 1 for an API it cannot reach', async () => {
    const refused = await check({ GPUPOOL_API_URL: pool.stack.apiUrl, GPUPOOL_CHECKER_KEY: 'gp_nosuchkey0000_secretsecretsecretsecret1' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the API refuses GPUPOOL_CHECKER_KEY (HTTP 401)');
    const missing = await check({ GPUPOOL_API_URL: 'not a url' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('GPUPOOL_API_URL: an http(s) URL');
    expect(missing.stderr).toContain('GPUPOOL_CHECKER_KEY:');
    // a port nobody listens on: bound, then closed
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const down = await check({ GPUPOOL_API_URL: `http://127.0.0.1:${port}`, GPUPOOL_CHECKER_KEY: holder.key });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach the API at http://127.0.0.1:${port}`);
  }, 30_000);

  it('the service exits 2 at start with a refused key, so systemd does not restart it (RestartPreventExitStatus=2)', async () => {
    const r = await runProcess(process.execPath, [process.env.GPUPOOL_CHECKER_BUNDLE!], {
      PATH: process.env.PATH ?? '',
      GPUPOOL_API_URL: pool.stack.apiUrl,
      GPUPOOL_CHECKER_KEY: 'gp_nosuchkey0000_secretsecretsecretsecret1',
      GPUPOOL_CHECKER_STATE_DIR: join(tempDir(), 'state'),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refuses GPUPOOL_CHECKER_KEY');
  }, 30_000);
});

describe('what the API serves for checker hosts', () => {
  it('GET /checker/install.sh is the script with the unit inlined, and the generated module is up to date', async () => {
    const generated = readFileSync(join(REPO_ROOT, CHECKER_INSTALL_SCRIPT_MODULE), 'utf8');
    expect(generated === checkerInstallScriptModule(), `${CHECKER_INSTALL_SCRIPT_MODULE} is stale: run npm run build:checker`).toBe(true);
    expect(CHECKER_INSTALL_SCRIPT === servedCheckerInstallScript()).toBe(true);
    expect(CHECKER_INSTALL_SCRIPT).toContain(readFileSync(UNIT, 'utf8').trimEnd());
    const res = await fetch(`${pool.stack.apiUrl}/checker/install.sh`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/x-shellscript; charset=utf-8');
    expect((await res.text()) === CHECKER_INSTALL_SCRIPT).toBe(true);
  });

  it('GET /checker/gpupool-checker.mjs is the bundle and …/gpupool-checker.mjs.sha256 its digest; without a bundle a 404 says how to build one', async () => {
    const res = await fetch(`${pool.stack.apiUrl}/checker/gpupool-checker.mjs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(Buffer.from(await res.arrayBuffer()).equals(bundle)).toBe(true);
    const digest = await fetch(`${pool.stack.apiUrl}/checker/gpupool-checker.mjs.sha256`);
    expect(await digest.text()).toBe(`${sha256(bundle)}  gpupool-checker.mjs\n`);
    const saved = process.env.GPUPOOL_CHECKER_BUNDLE;
    process.env.GPUPOOL_CHECKER_BUNDLE = join(tempDir(), 'none.mjs');
    try {
      const missing = await fetch(`${pool.stack.apiUrl}/checker/gpupool-checker.mjs`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { detail: string }).detail).toContain('npm run build:checker');
      expect((await fetch(`${pool.stack.apiUrl}/checker/gpupool-checker.mjs.sha256`)).status).toBe(404);
    } finally {
      process.env.GPUPOOL_CHECKER_BUNDLE = saved;
    }
  });

  it.skipIf(!HAS_SHELLCHECK)('passes shellcheck, as a file and as served', () => {
    const file = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    expect(file.stdout + file.stderr).toBe('');
    const served = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: CHECKER_INSTALL_SCRIPT, encoding: 'utf8' });
    expect(served.stdout + served.stderr).toBe('');
    expect(served.status).toBe(0);
  });

  it.skipIf(!HAS_SYSTEMD_ANALYZE)('has a unit systemd-analyze verify accepts', () => {
    const file = join(tempDir(), 'gpupool-checker.service');
    writeFileSync(file, readFileSync(UNIT, 'utf8').replace('@NODE@', process.execPath));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
