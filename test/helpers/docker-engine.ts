// The private Docker Engine of the test suite (scripts/test-docker-engine.sh). vitest's globalSetup (this
// file's setup/teardown) picks one directory per test run; the first test file that asks starts the engine
// there and every other file shares it; teardown stops it by its pid once the run is over. Where the engine
// cannot start here (not root, no docker.io package to install) `dockerEngine()` says why and the
// real-engine tests skip with that reason in their name; any other failure fails the tests.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/test-docker-engine.sh', import.meta.url));
const DIR_VAR = 'GPUPOOL_TEST_DOCKER_DIR';
/** the image every real-engine test runs: busybox FROM scratch, built by the script */
export const TEST_IMAGE = 'gpupool-test/busybox:1';

export interface DockerEngine {
  /** unix:///…/docker.sock */
  host: string;
  /** runs the docker CLI against this engine */
  docker(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** vitest globalSetup: one engine directory per run, inherited by the test workers */
export function setup(): void {
  process.env[DIR_VAR] ??= path.join(tmpdir(), `gpupool-docker-${process.pid}`);
}

export async function teardown(): Promise<void> {
  await run(SCRIPT, ['stop', engineDir()]);
}

const engineDir = () => process.env[DIR_VAR] ?? path.join(tmpdir(), 'gpupool-docker-engine');

let started: Promise<DockerEngine | { skip: string }> | undefined;

/** The shared engine, started on first use; `{ skip }` with the reason where it cannot run here. */
export function dockerEngine(): Promise<DockerEngine | { skip: string }> {
  started ??= (async () => {
    // installing docker.io may take a minute on a fresh machine
    const r = await run(SCRIPT, ['start', engineDir()], 300_000);
    if (r.code === 2) return { skip: r.stderr.trim().split('\n').pop()?.replace(/^test-docker-engine: /, '') ?? 'docker engine unavailable' };
    const host = /DOCKER_HOST=(\S+)\s*$/.exec(r.stdout)?.[1];
    if (r.code !== 0 || !host) throw new Error(`test docker engine did not start (exit ${r.code}):\n${r.stderr}`);
    return { host, docker: (...args: string[]) => run('docker', args, 60_000, { ...process.env, DOCKER_HOST: host }) };
  })();
  return started;
}

let registryStarted: Promise<{ address: string } | { skip: string }> | undefined;

/**
 * A local Debian docker-registry beside the shared engine (`scripts/test-docker-engine.sh registry`), on a
 * free loopback port, with TEST_IMAGE pushed as `<address>/gpupool-test/busybox:1`; stopped with the engine.
 */
export function dockerRegistry(): Promise<{ address: string } | { skip: string }> {
  registryStarted ??= (async () => {
    const engine = await dockerEngine();
    if ('skip' in engine) return engine;
    const r = await run(SCRIPT, ['registry', engineDir()], 300_000);
    if (r.code === 2) return { skip: r.stderr.trim().split('\n').pop()?.replace(/^test-docker-engine: /, '') ?? 'docker-registry unavailable' };
    const address = /REGISTRY=(\S+)\s*$/.exec(r.stdout)?.[1];
    if (r.code !== 0 || !address) throw new Error(`test registry did not start (exit ${r.code}):\n${r.stderr}`);
    return { address };
  })();
  return registryStarted;
}

export interface PrivateRegistry {
  /** 127.0.0.1:PORT */
  address: string;
  username: string;
  password: string;
  /** TEST_IMAGE as pushed there: `<address>/gpupool-test/private:1`; the engine does not hold it */
  image: string;
}
let privateStarted: Promise<PrivateRegistry | { skip: string }> | undefined;

/**
 * A second Debian docker-registry beside the shared engine that requires a login (htpasswd with a bcrypt
 * entry; `scripts/test-docker-engine.sh private-registry`), holding TEST_IMAGE as gpupool-test/private:1.
 */
export function dockerPrivateRegistry(): Promise<PrivateRegistry | { skip: string }> {
  privateStarted ??= (async () => {
    const engine = await dockerEngine();
    if ('skip' in engine) return engine;
    const r = await run(SCRIPT, ['private-registry', engineDir()], 300_000);
    if (r.code === 2) return { skip: r.stderr.trim().split('\n').pop()?.replace(/^test-docker-engine: /, '') ?? 'private docker-registry unavailable' };
    const field = (k: string) => new RegExp(`^${k}=(\\S+)$`, 'm').exec(r.stdout)?.[1];
    const [address, username, password] = [field('PRIVATE_REGISTRY'), field('PRIVATE_USER'), field('PRIVATE_PASSWORD')];
    if (r.code !== 0 || !address || !username || !password) throw new Error(`private test registry did not start (exit ${r.code}):\n${r.stderr}`);
    return { address, username, password, image: `${address}/gpupool-test/private:1` };
  })();
  return privateStarted;
}

/** The describe title for real-engine tests: says why they are skipped when they are. */
export const engineTitle = (title: string, e: DockerEngine | { skip: string }) => ('skip' in e ? `${title} (skipped: ${e.skip})` : title);

function run(cmd: string, args: string[], timeout = 120_000, env = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
