// The docker runtime's side of secrets and private images (agent/runtime/docker.ts, pull.ts,
// registry-login.ts): a secret reaches `docker run` as `-e NAME` with its value in the CLI's environment,
// never on the command line; a name the docker CLI itself reads is refused; the registry login is a
// per-attempt DOCKER_CONFIG given to the pull alone and removed after it; a repository once pulled with a
// login is pulled again by every later attempt, so one without credentials is refused by the registry
// instead of running the copy the node holds.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AttemptSpec } from '../../functions/domain/agent-protocol';
import { dockerRunArgs, secretEnvFor } from '../../agent/runtime/docker';
import { ImagePuller, type DockerRun } from '../../agent/runtime/pull';
import { PrivateRepos, repositoryOf, withRegistryLogin } from '../../agent/runtime/registry-login';

const silent = { info() {}, warn() {}, error() {}, debug() {}, child() { return silent; } } as never;
const spec: AttemptSpec = { image: 'ghcr.io/acme/x:1', command: ['true'], env: { PLAIN: 'p' }, gpus: 0, maxDurationSeconds: 60 };
const start = { secrets: { env: { HF_TOKEN: 'hf_value_1234' } } };
const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-dsec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('secret env in docker run', () => {
  it('passes the name only (-e HF_TOKEN), the value in the CLI process environment', () => {
    const args = dockerRunArgs({ jobId: 'j', attemptId: 'a', spec, devices: [], start });
    expect(args.join(' ')).not.toContain('hf_value_1234');
    const i = args.indexOf('HF_TOKEN');
    expect(args[i - 1]).toBe('-e');
    expect(args).toContain('PLAIN=p');
    expect(secretEnvFor({ start })).toEqual({ env: { HF_TOKEN: 'hf_value_1234' } });
  });

  it('refuses a secret named like a variable the docker CLI reads (it would steer the CLI, not reach the job)', () => {
    for (const name of ['DOCKER_HOST', 'DOCKER_CONFIG', 'PATH', 'HTTPS_PROXY', 'HOME']) {
      expect(secretEnvFor({ start: { secrets: { env: { [name]: 'x' } } } }).error).toContain(name);
    }
  });
});

describe('the registry login', () => {
  it('is a 0600 config.json in a fresh directory that is gone once the pull returns, even when it throws', async () => {
    let seen = '';
    await withRegistryLogin({ server: '127.0.0.1:5000', username: 'u', password: 'pw-secret' }, async (cfg) => {
      seen = cfg;
      const file = path.join(cfg, 'config.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(cfg).mode & 0o777).toBe(0o700);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ auths: { '127.0.0.1:5000': { auth: Buffer.from('u:pw-secret').toString('base64') } } });
    }, dir);
    expect(existsSync(seen)).toBe(false);
    await expect(withRegistryLogin({ server: 's', username: 'u', password: 'p' }, async (cfg) => ((seen = cfg), Promise.reject(new Error('pull died'))), dir)).rejects.toThrow('pull died');
    expect(existsSync(seen)).toBe(false);
  });

  it('repositories are named without tag or digest', () => {
    expect(repositoryOf('127.0.0.1:5000/acme/private:1')).toBe('127.0.0.1:5000/acme/private');
    expect(repositoryOf(`127.0.0.1:5000/acme/private@sha256:${'a'.repeat(64)}`)).toBe('127.0.0.1:5000/acme/private');
    expect(repositoryOf('busybox')).toBe('docker.io/library/busybox');
  });
});

describe('pulls of private repositories', () => {
  /** a docker CLI that holds `held` images and answers pulls with `pullCode`; records what ran and with which env */
  function fakeDocker(held: Set<string>, pullCode: () => number) {
    const calls: { args: string[]; env?: Record<string, string> }[] = [];
    const run: DockerRun = async (args, onLine, _started, env) => {
      calls.push({ args, env });
      if (args[0] === 'image' && args[1] === 'inspect') {
        const image = args[args.length - 1];
        if (!held.has(image)) return { exitCode: 1 };
        onLine('stdout', `sha256:${'b'.repeat(64)}\t[]`);
        return { exitCode: 0 };
      }
      if (args[0] === 'pull') {
        const code = pullCode();
        if (code === 0) held.add(args[args.length - 1]);
        else onLine('stderr', 'Error response from daemon: Head "http://127.0.0.1:5000/v2/acme/private/manifests/1": no basic auth credentials');
        return { exitCode: code };
      }
      return { exitCode: 0 };
    };
    return { run, calls };
  }
  const hooks = { system() {}, phase() {} };
  const IMAGE = '127.0.0.1:5000/acme/private:1';

  it('pulls with the attempt login even when held; a later attempt without one pulls again and is refused, the held copy unused', async () => {
    const held = new Set<string>();
    let authorized = true;
    const d = fakeDocker(held, () => (authorized ? 0 : 1));
    const privates = new PrivateRepos(path.join(dir, 'private-repos.json'));
    const puller = new ImagePuller(d.run, silent, { minFreeBytes: 0, privates });
    const first = await puller.ensure(IMAGE, { ...hooks, dockerConfig: '/tmp/login-a' });
    expect(first.ok).toBe(true);
    expect(d.calls.find((c) => c.args[0] === 'pull')?.env).toEqual({ DOCKER_CONFIG: '/tmp/login-a' });
    // held now, pinned tag: a login still pulls (the registry judges these credentials)
    d.calls.length = 0;
    expect((await puller.ensure(IMAGE, { ...hooks, dockerConfig: '/tmp/login-b' })).ok).toBe(true);
    expect(d.calls.filter((c) => c.args[0] === 'pull')).toHaveLength(1);
    // no login: pulled again (no credentials), refused, the held copy not used
    authorized = false;
    d.calls.length = 0;
    const stolen = await puller.ensure(IMAGE, hooks);
    expect(stolen).toMatchObject({ ok: false, failure: 'REGISTRY_UNAUTHORIZED' });
    expect(d.calls.find((c) => c.args[0] === 'pull')?.env).toBeUndefined();
    // a restarted agent remembers (names only, no credentials on disk)
    const again = new ImagePuller(d.run, silent, { minFreeBytes: 0, privates: new PrivateRepos(path.join(dir, 'private-repos.json')) });
    expect(await again.ensure(`127.0.0.1:5000/acme/private@sha256:${'c'.repeat(64)}`, hooks)).toMatchObject({ ok: false, failure: 'REGISTRY_UNAUTHORIZED' });
    expect(readFileSync(path.join(dir, 'private-repos.json'), 'utf8')).toBe('["127.0.0.1:5000/acme/private"]\n');
  });

  it('a public image held with a pinned tag is still run without a pull', async () => {
    const held = new Set(['ghcr.io/acme/public:1']);
    const d = fakeDocker(held, () => 0);
    const puller = new ImagePuller(d.run, silent, { minFreeBytes: 0, privates: new PrivateRepos() });
    expect((await puller.ensure('ghcr.io/acme/public:1', hooks)).ok).toBe(true);
    expect(d.calls.some((c) => c.args[0] === 'pull')).toBe(false);
  });
});
