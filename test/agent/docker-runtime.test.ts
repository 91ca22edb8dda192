import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AttemptSpec, PullReport } from '../../functions/domain/agent-protocol';
import type { GpuDevice } from '../../functions/domain/model';
import { GpuAllocator } from '../../agent/gpu/allocator';
import { silentLogger } from '../../agent/log';
import { DockerRuntime, dockerFailure, dockerRunArgs, resourceLimits } from '../../agent/runtime/docker';
import { pathWithFakes } from './helpers/fixtures';
import { lineCollector } from './helpers/lines';

const dir = mkdtempSync(join(tmpdir(), 'gpupool-docker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const gpus: GpuDevice[] = ['GPU-aaa', 'GPU-bbb', 'GPU-ccc', 'GPU-ddd'].map((uuid, index) => ({ index, uuid, model: 'H100', vramGb: 80 }));
const runtime = new DockerRuntime(silentLogger);
let logFile = '';
let n = 0;

beforeEach(() => {
  logFile = join(dir, `docker-${++n}.log`);
  vi.stubEnv('PATH', pathWithFakes());
  vi.stubEnv('FAKE_DOCKER_LOG', logFile);
});
afterEach(() => vi.unstubAllEnvs());

/** Every docker invocation so far, as argv arrays. */
const calls = (): string[][] => readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const runCalls = () => calls().filter((c) => c[0] === 'run');

function start(attemptId: string, devices: GpuDevice[], spec: Partial<AttemptSpec> = {}) {
  const out = lineCollector();
  const pulls: PullReport[] = [];
  const full: AttemptSpec = { image: 'ghcr.io/acme/train:1', command: ['python', 'train.py', '--epochs', '3'], env: {}, gpus: devices.length, maxDurationSeconds: 60, ...spec };
  return { out, pulls, handle: runtime.start({ jobId: 'job1', attemptId, spec: full, devices, onLine: out.onLine, onPull: (p) => pulls.push(p) }) };
}
const inspect = (image: string) => ['image', 'inspect', '--format', '{{.Id}}\t{{json .RepoDigests}}', '--', image];

const SECURITY = ['--security-opt', 'no-new-privileges', '--cap-drop', 'ALL', '--pids-limit', '4096', '--shm-size', '1g', '--network', 'none', '--mount', 'type=volume,dst=/scratch'];

describe('docker runtime (fake docker on PATH)', () => {
  it('pulls an image the node lacks (reporting the phase), then runs one GPU by uuid with the exact argv', async () => {
    const { out, handle, pulls } = start('att1', [gpus[0]], { env: { WANDB_MODE: 'offline' } });
    expect(await handle.wait()).toEqual({ exitCode: 0, signal: null });
    expect(calls()).toEqual([
      inspect('ghcr.io/acme/train:1'),
      ['pull', '--', 'ghcr.io/acme/train:1'],
      inspect('ghcr.io/acme/train:1'),
      [
        'run', '--name', 'gpupool-att1', '--label', 'gpupool.job=job1', '--label', 'gpupool.attempt=att1',
        '--gpus', '"device=GPU-aaa"', ...SECURITY,
        '-e', 'WANDB_MODE=offline', '-e', 'GPUPOOL_JOB_ID=job1', '-e', 'GPUPOOL_ATTEMPT_ID=att1',
        '--', 'ghcr.io/acme/train:1', 'python', 'train.py', '--epochs', '3',
      ],
      // then the container goes, with its /scratch volume (what --rm did)
      ['rm', '-f', '-v', 'gpupool-att1'],
    ]);
    expect(out.text('system').slice(0, 5)).toEqual([
      'pulling ghcr.io/acme/train:1',
      'Using default tag: latest',
      'latest: Pulling from ghcr.io/acme/train:1',
      'Digest: sha256:0123456789abcdef',
      'Status: Downloaded newer image for ghcr.io/acme/train:1',
    ]);
    expect(out.text('system')[5]).toMatch(/^pulled ghcr\.io\/acme\/train:1 in \d+\.\d\d s$/);
    // the fake engine cannot say what it pulled: PULLED without a digest
    expect(pulls).toEqual([{ phase: 'PULLING' }, { phase: 'PULLED', seconds: expect.any(Number) }]);
    expect(out.text('stdout')).toEqual(['hello from gpupool-att1']);
    expect(out.text('stderr')).toEqual(['a line on stderr']);
  });

  it('passes two GPUs as one quoted device list', async () => {
    await start('att2', [gpus[1], gpus[2]]).handle.wait();
    expect(runCalls()[0].slice(0, 21)).toEqual([
      'run', '--name', 'gpupool-att2', '--label', 'gpupool.job=job1', '--label', 'gpupool.attempt=att2',
      '--gpus', '"device=GPU-bbb,GPU-ccc"', ...SECURITY,
    ]);
  });

  it('gives no --gpus flag to a job that asked for none', async () => {
    await start('att0', []).handle.wait();
    expect(runCalls()[0]).not.toContain('--gpus');
  });

  it('runs two attempts side by side on disjoint devices, and stops them with docker stop', async () => {
    vi.stubEnv('FAKE_DOCKER_RUN_MS', '30000');
    const alloc = new GpuAllocator(gpus);
    const a = start('attA', alloc.allocate('attA', 1)!);
    const b = start('attB', alloc.allocate('attB', 2)!);
    await Promise.all([a.out.waitFor(/hello from gpupool-attA/), b.out.waitFor(/hello from gpupool-attB/)]);
    const devices = runCalls().map((c) => [c[2], c[c.indexOf('--gpus') + 1]]);
    expect(devices.sort()).toEqual([
      ['gpupool-attA', '"device=GPU-aaa"'],
      ['gpupool-attB', '"device=GPU-bbb,GPU-ccc"'],
    ]);
    expect(alloc.free).toBe(1);
    const [ra, rb] = await Promise.all([a.handle.stop(2_000), b.handle.stop(2_000)]);
    expect([ra.exitCode, rb.exitCode]).toEqual([143, 143]);
    expect(calls().filter((c) => c[0] === 'stop').sort()).toEqual([
      ['stop', '-t', '2', 'gpupool-attA'],
      ['stop', '-t', '2', 'gpupool-attB'],
    ]);
  });

  it('reports the container exit code', async () => {
    vi.stubEnv('FAKE_DOCKER_RUN_EXIT', '7');
    expect(await start('att3', [gpus[0]]).handle.wait()).toEqual({ exitCode: 7, signal: null });
  });

  it("treats exit 125 as docker failing, not the workload: the node's fault, in docker's words", async () => {
    vi.stubEnv('FAKE_DOCKER_RUN_EXIT', '125');
    // the container never started (docker failed creating or starting it)
    vi.stubEnv('FAKE_DOCKER_STARTED_AT', '0001-01-01T00:00:00Z');
    const r = await start('att4', [gpus[0]]).handle.wait();
    expect(r.exitCode).toBe(125);
    expect(r.infrastructure).toBe(true);
    expect(r.error).toBe('node fault: docker run failed (exit 125): a line on stderr');
    // not a fault of the whole node: only the engine's own words about the GPU runtime or itself are
    expect(r.nodeFault).toBeUndefined();
  });

  it("consumer: a workload that exits 125 itself is its own failure (charged), not the node's, whatever it printed", async () => {
    vi.stubEnv('FAKE_DOCKER_RUN_EXIT', '125');
    const r = await start('att125', [gpus[0]]).handle.wait();
    // the container had started: docker's 125 cannot be told from the workload's by code or words
    expect(r).toEqual({ exitCode: 125, signal: null });
    expect(calls().slice(-2)).toEqual([
      ['inspect', '--type', 'container', '--format', '{{.State.StartedAt}}', 'gpupool-att125'],
      ['rm', '-f', '-v', 'gpupool-att125'],
    ]);
  });

  describe('exit 125: which failures take the node out of service', () => {
    const run = { exitCode: 125, signal: null };
    // real lines from docker 20-27 (docs/agent-hosts.md, Node faults)
    it('the NVIDIA runtime missing for --gpus, or docker not knowing the nvidia runtime: a node fault with what to do', () => {
      for (const said of [
        'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].',
        'docker: Error response from daemon: unknown or invalid runtime name: nvidia.',
      ]) {
        const r = dockerFailure(run, [said, "Run 'docker run --help' for more information"]);
        expect(r).toMatchObject({ infrastructure: true, nodeFault: expect.stringMatching(/^docker cannot give GPUs to containers: the NVIDIA Container Toolkit .*; docker said: Error response/) });
      }
    });
    it('the engine unreachable: a node fault', () => {
      const r = dockerFailure(run, ['docker: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?.']);
      expect(r.nodeFault).toMatch(/^the Docker daemon is unreachable/);
    });
    it("consumer: what an image or a job spec can provoke ends the attempt only, so a crafted job cannot take nodes out of the pool", () => {
      for (const said of [
        'docker: Error response from daemon: unable to find user nobody42: no matching entries in passwd file.',
        'docker: Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: chdir to cwd ("/nope") set in config.json failed: no such file or directory: unknown.',
        'docker: Error response from daemon: Conflict. The container name "/gpupool-x" is already in use by container "abc".',
        // the words inside a job's own output cannot be the engine's: only docker's stderr is read, and a
        // message naming the NVIDIA runtime in some other sentence does not match either
        'docker: Error response from daemon: image says: could not select device driver nvidia, please retry',
      ]) {
        const r = dockerFailure(run, [said]);
        expect(r.infrastructure, said).toBe(true);
        expect(r.nodeFault, said).toBeUndefined();
      }
    });
  });

  it("a pull failure docker's words do not explain is the node's: handed back, no typed phase", async () => {
    vi.stubEnv('FAKE_DOCKER_PULL_EXIT', '1');
    const { handle, pulls } = start('att5', [gpus[0]]);
    expect(await handle.wait()).toEqual({ exitCode: null, signal: null, error: 'image pull failed: docker pull exited 1', infrastructure: true });
    expect(runCalls()).toEqual([]);
    expect(pulls).toEqual([{ phase: 'PULLING' }]);
  });

  it("a registry that has no such image is the consumer's: typed, in the registry's words", async () => {
    vi.stubEnv('FAKE_DOCKER_PULL_EXIT', '1');
    vi.stubEnv('FAKE_DOCKER_PULL_STDERR', 'Error response from daemon: manifest for ghcr.io/acme/train:1 not found: manifest unknown: manifest unknown');
    const { handle, pulls } = start('att5b', [gpus[0]]);
    const said = 'manifest for ghcr.io/acme/train:1 not found: manifest unknown: manifest unknown';
    expect(await handle.wait()).toEqual({ exitCode: null, signal: null, error: `image pull failed (IMAGE_NOT_FOUND): ${said}`, infrastructure: false });
    expect(pulls.at(-1)).toEqual({ phase: 'FAILED', failure: 'IMAGE_NOT_FOUND', message: said });
    expect(runCalls()).toEqual([]);
  });

  it('runs an image the node holds without pulling it, and says its digest', async () => {
    vi.stubEnv('FAKE_DOCKER_INSPECT_EXIT', '0');
    const { handle, pulls } = start('att6', [gpus[0]]);
    expect((await handle.wait()).exitCode).toBe(0);
    expect(calls().map((c) => c[0])).toEqual(['image', 'run', 'rm']);
    expect(pulls).toEqual([{ phase: 'PULLED', imageDigest: `sha256:${'b'.repeat(64)}` }]);
  });

  it('pulls a moving tag (latest) again, and runs the copy it holds when the registry cannot be reached', async () => {
    vi.stubEnv('FAKE_DOCKER_INSPECT_EXIT', '0');
    vi.stubEnv('FAKE_DOCKER_PULL_EXIT', '1');
    vi.stubEnv('FAKE_DOCKER_PULL_STDERR', 'Error response from daemon: Get "https://ghcr.io/v2/": dial tcp: lookup ghcr.io: no such host');
    const { out, handle, pulls } = start('att6b', [gpus[0]], { image: 'ghcr.io/acme/train' });
    expect((await handle.wait()).exitCode).toBe(0);
    expect(calls().map((c) => c[0])).toEqual(['image', 'pull', 'run', 'rm']);
    expect(out.text('system').at(-1)).toMatch(/^pull failed \(Get .*no such host\); using the copy of ghcr.io\/acme\/train this node holds$/);
    expect(pulls.at(-1)).toEqual({ phase: 'PULLED', imageDigest: `sha256:${'b'.repeat(64)}` });
  });

  it('refuses an attempt without an image', async () => {
    expect(await start('att7', [], { image: undefined }).handle.wait()).toEqual({ exitCode: null, signal: null, error: 'docker runtime needs an image' });
  });

  it('skips env names docker would misread, and keeps its own ids authoritative', async () => {
    const { out, handle } = start('att8', [], { env: { 'BAD=NAME': 'x', GPUPOOL_JOB_ID: 'forged', OK: 'a=b' } });
    await handle.wait();
    const run = runCalls()[0];
    expect(run.filter((_, i) => run[i - 1] === '-e')).toEqual(['OK=a=b', 'GPUPOOL_JOB_ID=job1', 'GPUPOOL_ATTEMPT_ID=att8']);
    expect(out.text('system')).toContain('skipped env "BAD=NAME": not a valid variable name');
  });

  it('removes a leftover container by name, and its network if it had one', async () => {
    await runtime.killLeftover({ container: 'gpupool-old', attemptId: 'old' });
    expect(calls()).toEqual([['rm', '-f', 'gpupool-old'], ['network', 'rm', 'gpupool-old']]);
  });

  it('never hands docker an image it could read as a flag', async () => {
    const r = await start('att9', [], { image: '--privileged' }).handle.wait();
    expect(r).toMatchObject({ exitCode: null, error: 'not a Docker image reference: "--privileged"' });
    expect(existsSync(logFile)).toBe(false);
  });
});

describe('resource limits', () => {
  it.each([
    [1, ['--cpus', '4', '--memory', String(16 * 2 ** 30)]],
    [2, ['--cpus', '8', '--memory', String(32 * 2 ** 30)]],
    [4, ['--cpus', '16', '--memory', String(64 * 2 ** 30)]],
    [0, ['--cpus', '4', '--memory', String(16 * 2 ** 30)]],
  ])('gives an attempt with %i of 4 GPUs its share of 16 CPUs and 64 GiB', (gpus, flags) => {
    expect(resourceLimits({ cpus: 16, memoryBytes: 64 * 2 ** 30, totalGpus: 4 }, gpus)).toEqual(flags);
  });

  it('puts the limits into docker run when the runtime knows the host', () => {
    const args = dockerRunArgs(
      { jobId: 'j', attemptId: 'a', devices: [{ index: 0, uuid: 'GPU-1', model: 'A100', vramGb: 80 }], spec: { image: 'img', command: ['x'], env: {}, gpus: 1, maxDurationSeconds: 60 } } as never,
      () => {},
      { host: { cpus: 8, memoryBytes: 32 * 2 ** 30, totalGpus: 2 } },
    );
    expect(args.join(' ')).toContain(`--cpus 4 --memory ${16 * 2 ** 30} --mount type=volume,dst=/scratch`);
  });
});

describe('docker run arguments (trust: what a job can reach and see)', () => {
  const attempt = (spec: Partial<AttemptSpec>, devices: GpuDevice[] = [gpus[1], gpus[3]]) => ({
    jobId: 'j1',
    attemptId: 'a1',
    devices,
    spec: { image: 'img', command: ['x'], env: {}, gpus: devices.length, maxDurationSeconds: 60, ...spec } as AttemptSpec,
  });
  const envOf = (args: string[]) => args.filter((_, i) => args[i - 1] === '-e');
  const gang = (rank: number) => ({ rank, worldSize: 2, peers: ['10.0.0.1', '10.0.0.2'], masterAddr: '10.0.0.1', masterPort: 29517 });

  it('with simulated GPUs runs without --gpus and names the devices in the environment', () => {
    const args = dockerRunArgs(attempt({}), () => {}, { simulatedGpus: true });
    expect(args).not.toContain('--gpus');
    expect(envOf(args)).toEqual(['NVIDIA_VISIBLE_DEVICES=GPU-bbb,GPU-ddd', 'CUDA_VISIBLE_DEVICES=1,3', 'GPUPOOL_JOB_ID=j1', 'GPUPOOL_ATTEMPT_ID=a1']);
    expect(envOf(dockerRunArgs(attempt({}, []), () => {}, { simulatedGpus: true })).slice(0, 2)).toEqual(['NVIDIA_VISIBLE_DEVICES=void', 'CUDA_VISIBLE_DEVICES=']);
  });

  it('with GPUs from nvidia-smi passes --gpus and leaves the device variables to the NVIDIA runtime', () => {
    const args = dockerRunArgs(attempt({}));
    expect(args.slice(args.indexOf('--gpus'), args.indexOf('--gpus') + 2)).toEqual(['--gpus', '"device=GPU-bbb,GPU-ddd"']);
    expect(envOf(args)).toEqual(['GPUPOOL_JOB_ID=j1', 'GPUPOOL_ATTEMPT_ID=a1']);
  });

  it.each([false, true])("never passes a job's NVIDIA_* variables (simulated GPUs: %s)", (simulatedGpus) => {
    const warned: string[] = [];
    const env = { NVIDIA_VISIBLE_DEVICES: 'all', NVIDIA_DRIVER_CAPABILITIES: 'all', NVIDIA_REQUIRE_CUDA: 'cuda>=1', HF_HOME: '/scratch/hf' };
    const args = dockerRunArgs(attempt({ env }), (l) => warned.push(l), { simulatedGpus });
    expect(envOf(args).filter((e) => e.startsWith('NVIDIA_'))).toEqual(simulatedGpus ? ['NVIDIA_VISIBLE_DEVICES=GPU-bbb,GPU-ddd'] : []);
    expect(envOf(args)).toContain('HF_HOME=/scratch/hf');
    expect(warned).toEqual([
      'skipped env NVIDIA_VISIBLE_DEVICES: NVIDIA_* variables are set by the node, not the job',
      'skipped env NVIDIA_DRIVER_CAPABILITIES: NVIDIA_* variables are set by the node, not the job',
      'skipped env NVIDIA_REQUIRE_CUDA: NVIDIA_* variables are set by the node, not the job',
    ]);
  });

  it('puts -- right before the image, so neither image nor command can be read as docker flags', () => {
    const args = dockerRunArgs(attempt({ image: 'img', command: ['--privileged', '-v', '/:/host'] }));
    expect(args.slice(-5)).toEqual(['--', 'img', '--privileged', '-v', '/:/host']);
    expect(args.indexOf('--')).toBe(args.length - 5);
  });

  it('gives a single-node job no network but its own loopback', () => {
    const args = dockerRunArgs(attempt({}));
    expect(args.slice(args.indexOf('--network'), args.indexOf('--network') + 2)).toEqual(['--network', 'none']);
    expect(args.filter((a) => a === '--network')).toHaveLength(1);
  });

  it("puts each gang rank on its own bridge network, never the host's; rank 0 publishes the rendezvous port", () => {
    const r0 = dockerRunArgs(attempt({ gang: gang(0) }));
    const r1 = dockerRunArgs(attempt({ gang: gang(1) }));
    for (const args of [r0, r1]) {
      expect(args).not.toContain('host');
      expect(args.join(' ')).not.toMatch(/--network[= ]host|--net[= ]host|--privileged|--pid[= ]|--ipc[= ]|--cap-add|docker\.sock/);
      expect(args.slice(args.indexOf('--network'), args.indexOf('--network') + 2)).toEqual(['--network', 'gpupool-a1']);
    }
    expect(r0.slice(r0.indexOf('--publish'), r0.indexOf('--publish') + 2)).toEqual(['--publish', '29517:29517']);
    expect(r1).not.toContain('--publish');
  });

  it('labels the container with its job, attempt and owning agent, so a restart finds it', () => {
    const args = dockerRunArgs(attempt({}), () => {}, { owner: '/var/lib/gpupool' });
    expect(args.filter((_, i) => args[i - 1] === '--label')).toEqual(['gpupool.job=j1', 'gpupool.attempt=a1', 'gpupool.state-dir=/var/lib/gpupool']);
  });
});
