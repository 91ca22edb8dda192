// The install script (agent/install/install.sh) against a fake root: --root DIR, fake nvidia-smi, docker,
// systemctl and user tools on a PATH that holds nothing else, a fake /etc/os-release and a fake control plane.
// Also: shellcheck, the copy the API serves at GET /install.sh, and the bundled agent it installs.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { INSTALL_SCRIPT } from '../../functions/http/install-script.generated';
import { routes as publicRoutes } from '../../functions/http/public';
import { routeGroup } from '../../functions/http/kit/router';
import { metricsOn, noopSink } from '../../functions/observability/metrics';
import type { Deps } from '../../functions/usecases/deps';

// the public routes read no store: their function's root with nothing but a metrics port
const publicHandler = routeGroup('public', publicRoutes, () => ({ metrics: metricsOn(noopSink) }) as Deps);
import { buildAgent, INSTALL_SCRIPT_MODULE, installScriptModule, REPO_ROOT, servedInstallScript } from '../../scripts/build-agent';
import { FAKE_BIN } from './helpers/fixtures';
import { FakeControlPlane, sessionOn } from './helpers/fake-control-plane';
import { startSqs } from './helpers/sqs';

const SCRIPT = join(REPO_ROOT, 'agent/install/install.sh');
const UNIT = join(REPO_ROOT, 'agent/install/gpupool-agent.service');
const PROVIDER_KEY = 'gp_prov0000000001_secretsecretsecretsecret1';
const IS_ROOT = process.getuid?.() === 0;
const HAS_SHELLCHECK = spawnSync('shellcheck', ['--version']).status === 0;

const dirs: string[] = [];
const tempDir = (prefix = 'gpupool-install-') => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/** What the script and the fakes run, and nothing else: a real nvidia-smi or docker on this machine must not count. */
const TOOLS = ['bash', 'sed', 'head', 'tr', 'grep', 'timeout', 'mktemp', 'install', 'mv', 'chmod', 'cat', 'rm', 'sort', 'wc', 'dirname', 'basename', 'mkdir', 'touch', 'sleep', 'sha256sum'];
let toolsDir: string;
let noSmiDir: string;
let bundle: string;
let bundle2: string;

beforeAll(() => {
  toolsDir = tempDir('gpupool-tools-');
  for (const tool of TOOLS) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (!found) throw new Error(`the install tests need ${tool} on PATH`);
    symlinkSync(found, join(toolsDir, tool));
  }
  symlinkSync(process.execPath, join(toolsDir, 'node'));
  // The fakes without nvidia-smi (the nvidia-smi fake finds its fixtures relative to itself, so it is not linked).
  noSmiDir = tempDir('gpupool-nosmi-');
  for (const fake of ['docker', 'systemctl', 'useradd', 'usermod', 'userdel']) symlinkSync(join(FAKE_BIN, fake), join(noSmiDir, fake));
  const bundles = tempDir('gpupool-bundle-');
  bundle = join(bundles, 'v1.mjs');
  bundle2 = join(bundles, 'v2.mjs');
  writeFileSync(bundle, 'console.log("agent v1");\n');
  writeFileSync(bundle2, 'console.log("agent v2");\n');
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Host {
  root: string;
  env: Record<string, string>;
  log: (name: 'systemctl' | 'users') => string;
}

/** A fake root with os-release and a docker group, and the environment the fakes read. */
function fakeHost(os = 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n', extra: Record<string, string> = {}): Host {
  const root = tempDir();
  const logs = tempDir('gpupool-logs-');
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/os-release'), `PRETTY_NAME="test"\n${os}`);
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\ndocker:x:998:\n');
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  return {
    root,
    env: {
      PATH: `${toolsDir}:${FAKE_BIN}`,
      HOME: root,
      TMPDIR: logs,
      FAKE_NVIDIA_SMI_LIST_FIXTURE: 'h100-sxm-1x-list.txt',
      FAKE_SYSTEMCTL_LOG: join(logs, 'systemctl.log'),
      FAKE_USERS_LOG: join(logs, 'users.log'),
      ...extra,
    },
    log: (name) => {
      const file = join(logs, `${name}.log`);
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
  };
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the script asynchronously (the fake control plane answers from this process). */
function run(host: Host, args: string[], opts: { script?: string; stdin?: string } = {}): Promise<Result> {
  const bash = join(toolsDir, 'bash');
  const argv = opts.stdin === undefined ? [opts.script ?? SCRIPT, ...args] : ['-s', '--', ...args];
  const child = spawn(bash, argv, { env: host.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // a script that refuses its arguments exits before reading stdin: the pipe is closed under the write
  // (EPIPE), which says nothing the exit code and output do not; any other stdin error fails the run
  let stdinError: Error | undefined;
  child.stdin.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') stdinError = e;
  });
  child.stdin.end(opts.stdin ?? '');
  return new Promise((resolve, reject) => child.once('close', (code) => (stdinError ? reject(stdinError) : resolve({ code, stdout, stderr }))));
}

const baseArgs = (host: Host, apiUrl = 'https://api.example.com') => [
  '--root', host.root, '--api-url', apiUrl, '--provider-key', PROVIDER_KEY, '--region', 'eu-west',
  '--location', '52.52,13.40', '--price', '1500000', '--name', 'gpu-host-1', '--agent-file', bundle,
];

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
const read = (host: Host, path: string) => readFileSync(join(host.root, path), 'utf8');

/** A stand-in for the API's node routes: records requests, answers from `answer`. */
async function fakeApi(answer: (req: IncomingMessage, seen: Array<{ method: string; url: string; key?: string }>) => { status: number; body?: string }) {
  const seen: Array<{ method: string; url: string; key?: string }> = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', key: req.headers['x-api-key'] as string | undefined });
    const a = answer(req, seen);
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

function writeIdentity(host: Host, nodeId = 'node-abc') {
  const state = join(host.root, 'var/lib/gpupool');
  mkdirSync(state, { recursive: true, mode: 0o700 });
  writeFileSync(join(state, 'identity.json'), JSON.stringify({ nodeId, nodeKey: 'nk_secret' }) + '\n', { mode: 0o600 });
}

const HARDENING = [
  'Restart=always', 'RestartSec=5', 'StartLimitBurst=10', 'StartLimitIntervalSec=600', 'NoNewPrivileges=yes',
  'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'ReadWritePaths=/var/lib/gpupool', 'StateDirectory=gpupool',
  'EnvironmentFile=/etc/gpupool/agent.env', 'User=gpupool', 'SupplementaryGroups=docker', 'KillSignal=SIGTERM',
  'KillMode=mixed', 'TimeoutStopSec=660', 'RestartPreventExitStatus=2', 'CapabilityBoundingSet=',
];

describe('install.sh against a fake root', () => {
  it('checks the host, installs the agent, the settings (mode 600) and a hardened unit', async () => {
    const host = fakeHost();
    const r = await run(host, [...baseArgs(host), '--no-systemd']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('gpupool: OS: ubuntu 22.04');
    expect(r.stdout).toContain('gpupool: GPUs: 1 (NVIDIA H100 80GB HBM3)');
    expect(r.stdout).toContain('gpupool: Docker: nvidia runtime present');
    expect(r.stdout).toMatch(/gpupool: Node\.js: v\d+/);

    const agent = join(host.root, 'opt/gpupool/gpupool-agent.mjs');
    expect(readFileSync(agent, 'utf8')).toBe(readFileSync(bundle, 'utf8'));
    expect(mode(agent)).toBe('755');

    const envFile = join(host.root, 'etc/gpupool/agent.env');
    expect(mode(envFile)).toBe('600');
    const settings = read(host, 'etc/gpupool/agent.env').split('\n').filter((l) => l.startsWith('GPUPOOL_'));
    expect(settings).toEqual([
      'GPUPOOL_API_URL=https://api.example.com',
      'GPUPOOL_LOCATION=52.52,13.40',
      'GPUPOOL_NODE_NAME=gpu-host-1',
      'GPUPOOL_PRICE_PER_GPU_HOUR=1500000',
      `GPUPOOL_PROVIDER_KEY=${PROVIDER_KEY}`,
      'GPUPOOL_REGION=eu-west',
      'GPUPOOL_RUNTIME=docker',
      'GPUPOOL_STATE_DIR=/var/lib/gpupool',
    ]);

    const unitFile = join(host.root, 'etc/systemd/system/gpupool-agent.service');
    expect(mode(unitFile)).toBe('644');
    const unit = readFileSync(unitFile, 'utf8').split('\n');
    for (const line of HARDENING) expect(unit).toContain(line);
    expect(unit).toContain(`ExecStart=${join(toolsDir, 'node')} /opt/gpupool/gpupool-agent.mjs`);
    expect(unit.join('\n')).not.toContain('@NODE@');

    if (IS_ROOT) {
      expect(host.log('users')).toBe(
        `useradd --prefix ${host.root} --system --user-group --home-dir /var/lib/gpupool --no-create-home --shell /usr/sbin/nologin --comment gpupool agent --groups docker gpupool\n`,
      );
      expect(read(host, 'etc/passwd')).toMatch(/^gpupool:/m);
    } else {
      expect(r.stdout).toContain('not root: skipping the gpupool system user');
    }
    expect(host.log('systemctl')).toBe(''); // --no-systemd
    expect(existsSync(join(host.root, 'var/lib/gpupool'))).toBe(false); // systemd's StateDirectory makes it
  });

  it('re-running upgrades in place: keeps identity.json and the settings it is not given', async () => {
    const host = fakeHost();
    expect((await run(host, [...baseArgs(host), '--no-systemd'])).code).toBe(0);
    writeIdentity(host);
    const identity = read(host, 'var/lib/gpupool/identity.json');
    writeFileSync(join(host.root, 'etc/gpupool/agent.env'), read(host, 'etc/gpupool/agent.env') + 'GPUPOOL_LABELS=rack=r7\n');

    const again = await run(host, ['--root', host.root, '--no-systemd', '--agent-file', bundle2, '--region', 'eu-central', '--probe-port', '7070']);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(read(host, 'opt/gpupool/gpupool-agent.mjs')).toContain('agent v2');
    expect(read(host, 'var/lib/gpupool/identity.json')).toBe(identity);
    const env = read(host, 'etc/gpupool/agent.env');
    expect(env).toContain('GPUPOOL_API_URL=https://api.example.com\n');
    expect(env).toContain(`GPUPOOL_PROVIDER_KEY=${PROVIDER_KEY}\n`);
    expect(env).toContain('GPUPOOL_REGION=eu-central\n');
    expect(env).toContain('GPUPOOL_PROBE_PORT=7070\n');
    expect(env).toContain('GPUPOOL_LABELS=rack=r7\n'); // a line added by hand survives
    expect(mode(join(host.root, 'etc/gpupool/agent.env'))).toBe('600');
    if (IS_ROOT) expect(host.log('users').split('\n')[1]).toBe(`usermod --prefix ${host.root} --append --groups docker gpupool`);
  });

  it('with systemd: reloads, enables and restarts the service, then waits until the node is ONLINE', async () => {
    const host = fakeHost();
    writeIdentity(host, 'node-abc'); // as the agent writes it when it registers
    let polls = 0;
    const api = await fakeApi((req) => {
      if (req.method !== 'GET' || req.url !== '/v1/nodes/node-abc') return { status: 404 };
      polls++;
      return { status: 200, body: JSON.stringify({ node: { id: 'node-abc', status: polls < 2 ? 'DRAINING' : 'ONLINE', totalGpus: 1 } }) };
    });
    try {
      const r = await run(host, [...baseArgs(host, api.url), '--wait-seconds', '20']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(host.log('systemctl').split('\n')).toEqual([
        'daemon-reload',
        'enable gpupool-agent.service',
        'is-active --quiet gpupool-agent.service',
        'restart gpupool-agent.service',
        'is-failed --quiet gpupool-agent.service',
        'is-failed --quiet gpupool-agent.service',
        '',
      ]);
      expect(r.stdout).toContain('node node-abc is DRAINING; waiting');
      expect(r.stdout).toContain('node node-abc is ONLINE with 1 GPU(s)');
      expect(api.seen.every((s) => s.key === PROVIDER_KEY)).toBe(true);
    } finally {
      await api.close();
    }
  });

  it('--uninstall stops the agent (it drains), then deregisters the node and removes everything', async () => {
    const host = fakeHost();
    let systemctlWhenDeleted = '';
    const api = await fakeApi((req) => {
      if (req.method === 'DELETE' && req.url === '/v1/nodes/node-abc') {
        systemctlWhenDeleted = host.log('systemctl');
        return { status: 200, body: JSON.stringify({ node: { id: 'node-abc', status: 'DEREGISTERED' } }) };
      }
      return { status: 404 };
    });
    try {
      expect((await run(host, [...baseArgs(host, api.url), '--no-systemd'])).code).toBe(0);
      writeIdentity(host, 'node-abc');
      const r = await run(host, ['--root', host.root, '--uninstall']); // API URL and key come from agent.env
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(systemctlWhenDeleted).toBe('disable --now gpupool-agent.service\n');
      expect(api.seen).toEqual([{ method: 'DELETE', url: '/v1/nodes/node-abc', key: PROVIDER_KEY }]);
      expect(r.stdout).toContain('node node-abc deregistered');
      for (const path of ['etc/systemd/system/gpupool-agent.service', 'etc/gpupool', 'opt/gpupool', 'var/lib/gpupool']) {
        expect(existsSync(join(host.root, path)), path).toBe(false);
      }
      expect(host.log('systemctl')).toBe('disable --now gpupool-agent.service\ndaemon-reload\n');
      if (IS_ROOT) {
        expect(host.log('users')).toContain(`userdel --prefix ${host.root} gpupool`);
        expect(read(host, 'etc/passwd')).not.toMatch(/^gpupool:/m);
      }
    } finally {
      await api.close();
    }
  });

  it('--uninstall keeps the identity when the node cannot be deregistered', async () => {
    const host = fakeHost();
    const api = await fakeApi(() => ({ status: 503, body: '{"title":"unavailable"}' }));
    try {
      expect((await run(host, [...baseArgs(host, api.url), '--no-systemd'])).code).toBe(0);
      writeIdentity(host, 'node-abc');
      const r = await run(host, ['--root', host.root, '--uninstall', '--no-systemd']);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('could not deregister node node-abc');
      expect(existsSync(join(host.root, 'var/lib/gpupool/identity.json'))).toBe(true);
      expect(existsSync(join(host.root, 'opt/gpupool'))).toBe(false);
    } finally {
      await api.close();
    }
  });

  it('reports a missing nvidia-smi with the command that installs the driver, and writes nothing', async () => {
    const host = fakeHost();
    host.env.PATH = `${toolsDir}:${noSmiDir}`;
    const r = await run(host, [...baseArgs(host), '--no-systemd']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('gpupool: missing: nvidia-smi not found: the NVIDIA driver is not installed');
    expect(r.stderr).toContain('fix (as root): apt-get update && apt-get install -y ubuntu-drivers-common && ubuntu-drivers install (then reboot)');
    expect(r.stderr).toContain('or re-run with --install-deps');
    expect(existsSync(join(host.root, 'opt'))).toBe(false);
    expect(existsSync(join(host.root, 'etc/gpupool'))).toBe(false);
  });

  it('on Debian 12 says which apt components the driver needs', async () => {
    const host = fakeHost('ID=debian\nVERSION_ID="12"\n');
    host.env.PATH = `${toolsDir}:${noSmiDir}`;
    const r = await run(host, ['--root', host.root, '--check']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('gpupool: OS: debian 12');
    expect(r.stderr).toContain('contrib non-free non-free-firmware');
    expect(r.stderr).toContain('apt-get install -y linux-headers-amd64 nvidia-driver nvidia-smi firmware-misc-nonfree');
  });

  it('reports Docker without the nvidia runtime, and a daemon that does not answer, each with its fix', async () => {
    const noRuntime = fakeHost(undefined, { FAKE_DOCKER_RUNTIMES: '{"runc":{"path":"runc"}}' });
    const r1 = await run(noRuntime, ['--root', noRuntime.root, '--check']);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('Docker has no nvidia runtime');
    expect(r1.stderr).toContain('apt-get install -y nvidia-container-toolkit && nvidia-ctk runtime configure --runtime=docker && systemctl restart docker');

    const down = fakeHost(undefined, { FAKE_DOCKER_INFO_EXIT: '1' });
    const r2 = await run(down, ['--root', down.root, '--check']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('the Docker daemon does not answer: Cannot connect to the Docker daemon');
    expect(r2.stderr).toContain('fix (as root): systemctl enable --now docker');

    // the process runtime needs no Docker
    const processRuntime = await run(down, ['--root', down.root, '--check', '--runtime', 'process']);
    expect(processRuntime.code).toBe(0);
    expect(processRuntime.stdout).toContain('this host has everything the agent needs');
  });

  it('warns on an OS it is not tested on and goes on', async () => {
    const host = fakeHost('ID=fedora\nVERSION_ID="40"\n');
    const r = await run(host, ['--root', host.root, '--check']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('OS fedora 40 is not one gpupool is tested on');
  });

  it('refuses bad values and a missing key before writing anything', async () => {
    const host = fakeHost();
    const r = await run(host, ['--root', host.root, '--api-url', 'ftp://x', '--location', 'north', '--runtime', 'podman', '--no-systemd', '--agent-file', bundle]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("GPUPOOL_API_URL='ftp://x' does not match");
    expect(r.stderr).toContain("GPUPOOL_LOCATION='north' does not match");
    expect(r.stderr).toContain("GPUPOOL_RUNTIME='podman' does not match");
    expect(r.stderr).toContain('--provider-key is required');
    expect(existsSync(join(host.root, 'etc/gpupool'))).toBe(false);
    expect((await run(host, ['--root', host.root, '--bogus'])).stderr).toContain('unknown option --bogus');
  });

  it('without a bundle: downloads <api>/agent/gpupool-agent.mjs, or says how to build one', async () => {
    // a copy of the script outside any checkout, as `curl … | bash` runs it
    const dir = join(tempDir(), 'a', 'b');
    mkdirSync(dir, { recursive: true });
    copyFileSync(SCRIPT, join(dir, 'install.sh'));
    copyFileSync(UNIT, join(dir, 'gpupool-agent.service'));
    let serve = false;
    const agent = 'console.log("downloaded");\n';
    const api = await fakeApi((req) => {
      if (serve && req.url === '/agent/gpupool-agent.mjs') return { status: 200, body: agent };
      if (serve && req.url === '/agent/gpupool-agent.mjs.sha256') return { status: 200, body: `${sha256(agent)}  gpupool-agent.mjs\n` };
      return { status: 404 };
    });
    try {
      const host = fakeHost();
      const args = baseArgs(host, api.url).slice(0, -2).concat('--no-systemd');
      const missing = await run(host, args, { script: join(dir, 'install.sh') });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no agent bundle to install. Build it in a gpupool checkout with: npm ci && npm run build:agent');
      serve = true;
      const fetched = await run(host, args, { script: join(dir, 'install.sh') });
      expect(fetched.stderr).toBe('');
      expect(fetched.code).toBe(0);
      expect(read(host, 'opt/gpupool/gpupool-agent.mjs')).toContain('downloaded');
      expect(fetched.stdout).toContain(`agent bundle verified: SHA-256 ${sha256(agent)}`);
    } finally {
      await api.close();
    }
  });

  it('refuses http:// to anything but a loopback address, before writing anything', async () => {
    for (const url of ['http://api.example.com', 'http://10.0.0.5:8080', 'http://127.0.0.1.evil.example', 'http://localhost.example.com/v1']) {
      const host = fakeHost();
      const r = await run(host, [...baseArgs(host, url), '--no-systemd']);
      expect(r.code, url).toBe(1);
      expect(r.stderr).toContain(`GPUPOOL_API_URL='${url}' is http://: use https://`);
      expect(existsSync(join(host.root, 'etc/gpupool')), url).toBe(false);
    }
    for (const url of ['http://127.0.0.1:3000', 'http://localhost:3000', 'https://api.example.com']) {
      const host = fakeHost();
      const r = await run(host, [...baseArgs(host, url), '--no-systemd']);
      expect(r.stderr, url).toBe('');
      expect(r.code, url).toBe(0);
    }
  });

  it('installs a downloaded agent only when its SHA-256 matches the digest the API gives', async () => {
    const dir = tempDir();
    copyFileSync(SCRIPT, join(dir, 'install.sh'));
    copyFileSync(UNIT, join(dir, 'gpupool-agent.service'));
    const agent = 'console.log("agent");\n';
    let digest: { status: number; body?: string } = { status: 404 };
    const api = await fakeApi((req) => (req.url === '/agent/gpupool-agent.mjs' ? { status: 200, body: agent } : req.url === '/agent/gpupool-agent.mjs.sha256' ? digest : { status: 404 }));
    try {
      const attempt = async () => {
        const host = fakeHost();
        const r = await run(host, baseArgs(host, api.url).slice(0, -2).concat('--no-systemd'), { script: join(dir, 'install.sh') });
        return { ...r, installed: existsSync(join(host.root, 'opt/gpupool/gpupool-agent.mjs')) };
      };
      // no digest: not installed
      const none = await attempt();
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('the API gave no digest for the agent');
      expect(none.installed).toBe(false);
      // a bundle swapped on the way (or a digest of another build): not installed
      digest = { status: 200, body: `${sha256('console.log("evil");\n')}  gpupool-agent.mjs\n` };
      const swapped = await attempt();
      expect(swapped.code).toBe(1);
      expect(swapped.stderr).toContain(`has SHA-256 ${sha256(agent)}, not ${sha256('console.log("evil");\n')}: refusing to install it`);
      expect(swapped.installed).toBe(false);
      // not a digest at all
      digest = { status: 200, body: '<html>hello</html>' };
      expect((await attempt()).stderr).toContain('is not a SHA-256 digest');
      digest = { status: 200, body: `${sha256(agent)}  gpupool-agent.mjs\n` };
      const ok = await attempt();
      expect(ok.stderr).toBe('');
      expect(ok.installed).toBe(true);
    } finally {
      await api.close();
    }
  });

  it('--agent-sha256 checks any bundle, a local file included, against a digest given out of band', async () => {
    const host = fakeHost();
    const wrong = await run(host, [...baseArgs(host), '--no-systemd', '--agent-sha256', sha256('something else')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('refusing to install it');
    expect(existsSync(join(host.root, 'opt/gpupool/gpupool-agent.mjs'))).toBe(false);
    const right = await run(host, [...baseArgs(host), '--no-systemd', '--agent-sha256', sha256(readFileSync(bundle, 'utf8')).toUpperCase()]);
    expect(right.stderr).toBe('');
    expect(right.code).toBe(0);
    expect((await run(host, [...baseArgs(host), '--agent-sha256', 'abc'])).stderr).toContain('--agent-sha256 takes a SHA-256 digest');
  });
});

describe('the script the API serves', () => {
  it('is install.sh with the unit inlined, and the generated module is up to date', () => {
    const generated = readFileSync(join(REPO_ROOT, INSTALL_SCRIPT_MODULE), 'utf8');
    // compared as booleans: a failing toBe would print the whole script twice
    expect(generated === installScriptModule(), `${INSTALL_SCRIPT_MODULE} is stale: run npm run build:agent`).toBe(true);
    expect(INSTALL_SCRIPT === servedInstallScript()).toBe(true);
    expect(INSTALL_SCRIPT).toContain(readFileSync(UNIT, 'utf8').trimEnd());
    expect(INSTALL_SCRIPT).not.toMatch(/^UNIT_INLINE=''$/m);
  });

  it('installs when piped into bash, with no file next to it', async () => {
    const host = fakeHost();
    const r = await run(host, [...baseArgs(host), '--no-systemd'], { stdin: INSTALL_SCRIPT });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(read(host, 'etc/systemd/system/gpupool-agent.service')).toContain('ProtectSystem=strict');
  });

  it('is served at GET /install.sh without a key, as text/x-shellscript', async () => {
    {
      const event = {
        httpMethod: 'GET', resource: '/install.sh', path: '/install.sh', headers: {}, multiValueHeaders: {}, body: null,
        isBase64Encoded: false, pathParameters: null, queryStringParameters: null, multiValueQueryStringParameters: null,
        stageVariables: null, requestContext: { requestId: 'req-1' },
      } as unknown as APIGatewayProxyEvent;
      const res = await publicHandler(event, {} as Context);
      expect(res.statusCode).toBe(200);
      expect(res.headers?.['content-type']).toBe('text/x-shellscript; charset=utf-8');
      expect(res.body).toBe(INSTALL_SCRIPT);
      expect(res.body.startsWith('#!/usr/bin/env bash\n')).toBe(true);
    }
  });

  it('serves the bundled agent at GET /agent/gpupool-agent.mjs and its digest at …/gpupool-agent.mjs.sha256, or says how to build it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpupool-bundle-'));
    const get = (resource = '/agent/gpupool-agent.mjs') =>
      publicHandler(
        {
          httpMethod: 'GET', resource, path: resource, headers: {}, multiValueHeaders: {}, body: null,
          isBase64Encoded: false, pathParameters: null, queryStringParameters: null, multiValueQueryStringParameters: null,
          stageVariables: null, requestContext: { requestId: 'req-2' },
        } as unknown as APIGatewayProxyEvent,
        {} as Context,
      );
    try {
      vi.stubEnv('GPUPOOL_AGENT_BUNDLE', join(dir, 'gpupool-agent.mjs'));
      const missing = await get();
      expect(missing.statusCode).toBe(404);
      expect(JSON.parse(missing.body).detail).toMatch(/npm run build:agent/);
      expect((await get('/agent/gpupool-agent.mjs.sha256')).statusCode).toBe(404);
      writeFileSync(join(dir, 'gpupool-agent.mjs'), 'console.log("agent");\n');
      const found = await get();
      expect(found.statusCode).toBe(200);
      expect(found.headers?.['content-type']).toBe('text/javascript; charset=utf-8');
      expect(found.body).toBe('console.log("agent");\n');
      const digest = await get('/agent/gpupool-agent.mjs.sha256');
      expect(digest.statusCode).toBe(200);
      expect(digest.headers?.['content-type']).toBe('text/plain; charset=utf-8');
      expect(digest.body).toBe(`${sha256('console.log("agent");\n')}  gpupool-agent.mjs\n`);
    } finally {
      vi.unstubAllEnvs();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!HAS_SHELLCHECK)('passes shellcheck, as a file and as served', () => {
    const file = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    expect(file.stdout + file.stderr).toBe('');
    expect(file.status).toBe(0);
    const served = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: INSTALL_SCRIPT, encoding: 'utf8' });
    expect(served.stdout + served.stderr).toBe('');
    expect(served.status).toBe(0);
  });

  it.skipIf(spawnSync('systemd-analyze', ['--version']).status !== 0)('has a unit systemd-analyze verify accepts', () => {
    const file = join(tempDir(), 'gpupool-agent.service');
    writeFileSync(file, readFileSync(UNIT, 'utf8').replace('@NODE@', process.execPath));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('the bundled agent', () => {
  let out: string;
  let bytes: number;

  beforeAll(async () => {
    out = join(tempDir('gpupool-dist-'), 'gpupool-agent.mjs');
    ({ bytes } = await buildAgent(REPO_ROOT, out));
  });

  it('is one file that exits 2 on a bad configuration', async () => {
    expect(readFileSync(out, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(bytes).toBeLessThan(1024 * 1024);
    const r = spawnSync(process.execPath, [out], { env: { PATH: process.env.PATH, GPUPOOL_API_URL: 'not a url' }, encoding: 'utf8', cwd: tmpdir() });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad configuration:[\s\S]*GPUPOOL_API_URL: Invalid URL[\s\S]*GPUPOOL_PROVIDER_KEY/);
  });

  it('runs idle with a simulated GPU, heartbeats telemetry and stays under 80 MB RSS', { timeout: 60_000 }, async () => {
    const sqs = await startSqs('node-bundle');
    const cp = new FakeControlPlane(() => sessionOn(sqs, { heartbeat: { busySeconds: 30, idleSeconds: 1 } }));
    cp.responders.set('heartbeat', () => ({ status: 200, body: { nextHeartbeatSeconds: 1, stale: [], cancel: [] } }));
    await cp.start();
    const state = tempDir('gpupool-bundle-state-');
    const spawnedAt = Date.now();
    const child = spawn(process.execPath, [out], {
      cwd: tmpdir(),
      env: {
        PATH: process.env.PATH, GPUPOOL_API_URL: cp.url, GPUPOOL_PROVIDER_KEY: 'pk_test', GPUPOOL_SIMULATED_GPUS: '1xA100-80',
        GPUPOOL_STATE_DIR: state, GPUPOOL_RUNTIME: 'process', GPUPOOL_NODE_NAME: 'bundle-node',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.resume();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const beat = await cp.waitFor('heartbeat', undefined, 20_000);
      expect(beat.body.telemetry).toEqual({
        agentRssMb: expect.any(Number),
        gpus: [{ index: 0, utilPct: 0, memUsedMiB: 0, tempC: 30, powerW: 50 }],
      });
      // Idle: the session is open and the heartbeat runs. V8 gives startup's garbage back some seconds
      // after the allocation rate drops (5-10 MB), so sampling starts 12 s after the spawn, and the budget
      // applies to the median of five samples a second apart.
      await cp.waitFor('heartbeat', () => cp.of('heartbeat').length >= 3, 20_000);
      await new Promise((r) => setTimeout(r, Math.max(0, spawnedAt + 12_000 - Date.now())));
      const samples: Array<Record<'VmRSS' | 'RssAnon' | 'RssFile', number>> = [];
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
        samples.push({ VmRSS: kb('VmRSS'), RssAnon: kb('RssAnon'), RssFile: kb('RssFile') });
      }
      const median = samples.sort((a, b) => a.VmRSS - b.VmRSS)[2];
      console.log(
        `bundle ${bytes} bytes; idle RSS ${median.VmRSS} kB (private ${median.RssAnon} kB, node's file pages ${median.RssFile} kB; ` +
          `samples ${samples.map((s) => s.VmRSS).join(', ')} kB) on Node ${process.version}`,
      );
      expect(median.VmRSS).toBeLessThan(80 * 1024);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await cp.close();
      await sqs.close();
    }
    // the agent logs JSON lines on stderr: nothing else (no SDK notice), and no error
    for (const line of stderr.split('\n').filter(Boolean)) expect(JSON.parse(line).level, line).not.toBe('error');
  });
});
