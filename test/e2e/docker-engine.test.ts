// The container path a GPU host takes, on a real Docker Engine (scripts/test-docker-engine.sh), minus the
// GPU: the local stack, real agents on GPUPOOL_RUNTIME=docker pointed at the private engine by DOCKER_HOST,
// jobs in busybox containers. Skips, saying why, only where the engine cannot start here.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { dockerEngine, engineTitle, TEST_IMAGE, type DockerEngine } from '../helpers/docker-engine';
import { startPool, type Pool } from '../helpers/local-pool';
import { guardPids } from '../helpers/procs';

const engine = await dockerEngine();
const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
const GRACE_S = 2;
const FAKE_SMI = fileURLToPath(new URL('../fixtures/bin/nvidia-smi', import.meta.url));

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let docker: DockerEngine['docker'];
let host: string;
const binDir = mkdtempSync(path.join(tmpdir(), 'gpupool-smi-'));

const dockerEnv = (extra: Record<string, string> = {}) => ({ GPUPOOL_RUNTIME: 'docker', DOCKER_HOST: host, GPUPOOL_STOP_GRACE_SECONDS: String(GRACE_S), ...extra });
const job = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
const waitFinal = (id: string, ms = 30_000) => eventually(async () => ((j) => (FINAL.includes(j.status) ? j : undefined))(await job(id)), ms, `job ${id} to end`);
const stdout = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}/logs`)).body.items.filter((l: { stream: string }) => l.stream === 'stdout').map((l: { text: string }) => l.text) as string[];
const submit = async (body: Record<string, unknown>) => {
  const r = await consumer.api.post('/v1/jobs', { image: TEST_IMAGE, resources: { gpus: 1, gpuModels: ['A100'] }, ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.job.id as string;
};
const containersOf = async (label: string) => (await docker('ps', '-aq', '--filter', `label=${label}`)).stdout.trim();
const waitLogged = (id: string, text: string) => eventually(async () => ((await stdout(id)).includes(text) ? true : undefined), 30_000, `"${text}" from ${id}`);

describe.skipIf('skip' in engine)(engineTitle('jobs in containers on a real Docker Engine', engine), () => {
  beforeAll(async () => {
    if ('skip' in engine) return;
    ({ host, docker } = engine);
    pool = await startPool();
    provider = await pool.newAccount('provider');
    consumer = await pool.newAccount('consumer');
    await pool.addAgent({ name: 'dk-a', gpus: '2xA100-80', providerKey: provider.key, env: dockerEnv() });
  }, 120_000);

  afterAll(async () => {
    await pool?.stop();
    rmSync(binDir, { recursive: true, force: true });
  });

  it('refuses an image reference docker could read as a flag (400 at submit)', async () => {
    const r = await consumer.api.post('/v1/jobs', { image: '--privileged', command: ['true'], resources: { gpus: 1 } });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/Docker image reference/);
  });

  it('runs a job in a container: output in order, exit code, SUCCEEDED; inside, what the agent promises holds', async () => {
    const script = [
      'for i in 1 2 3 4 5; do echo line $i; done',
      'echo to-stderr >&2',
      'grep -E "^(CapEff|NoNewPrivs):" /proc/self/status | tr -s "\\t" " "',
      'echo mem $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)',
      'echo cpu $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max)',
      'echo pids $(cat /sys/fs/cgroup/pids/pids.max)',
      'echo devices $NVIDIA_VISIBLE_DEVICES / $CUDA_VISIBLE_DEVICES',
      'echo interfaces $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " ")',
      'echo data > /scratch/file && echo scratch $(cat /scratch/file)',
      'echo volume $(grep " /scratch " /proc/self/mountinfo | sed "s#.*/volumes/\\([^/]*\\)/_data.*#\\1#")',
    ].join('; ');
    const id = await submit({ command: ['sh', '-c', script], env: { NVIDIA_VISIBLE_DEVICES: 'all' } });
    const done = await waitFinal(id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', exitCode: 0 });
    const out = await stdout(id);
    expect(out.slice(0, 5)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
    const logs = (await consumer.api.get(`/v1/jobs/${id}/logs`)).body.items;
    expect(logs.find((l: { text: string }) => l.text === 'to-stderr')?.stream).toBe('stderr');
    expect(out).toContain('CapEff: 0000000000000000');
    expect(out).toContain('NoNewPrivs: 1');
    // the agent's share for 1 of the node's 2 GPUs: half this host's CPUs and memory (at least 1 CPU, 512 MiB)
    // (the kernel keeps a memory limit in whole pages, so it reads back rounded down to 4 KiB)
    const memLimit = Math.max(512 * 2 ** 20, Math.floor(totalmem() / 2));
    expect(out).toContain(`mem ${memLimit - (memLimit % 4096)}`);
    expect(out).toContain(`cpu ${Math.round(Math.max(1, Math.floor(cpus().length * 0.5 * 100) / 100) * 100_000)}`);
    expect(out).toContain('pids 4096');
    // simulated GPUs are named in the environment; the job's own NVIDIA_VISIBLE_DEVICES=all never arrived
    expect(out.find((l) => l.startsWith('devices '))).toMatch(/^devices GPU-[\w-]+ \/ [01]$/);
    // no network but its own loopback: not the host's, not another attempt's
    expect(out).toContain('interfaces lo');
    expect(out).toContain('scratch data');
    const volume = out.find((l) => l.startsWith('volume '))?.slice(7);
    expect(volume).toMatch(/^[0-9a-f]{64}$/);
    // the scratch volume and the container are gone with the attempt
    await eventually(async () => ((await docker('volume', 'inspect', volume!)).code !== 0 ? true : undefined), 10_000, 'scratch volume removed');
    expect(await containersOf(`gpupool.job=${id}`)).toBe('');

    const failed = await waitFinal(await submit({ command: ['sh', '-c', 'echo bye; exit 3'] }));
    expect(failed).toMatchObject({ status: 'FAILED', exitCode: 3, reason: 'EXIT_NONZERO' });
  }, 60_000);

  it("reaches neither another attempt's container nor the host's loopback nor the metadata endpoint", async () => {
    const listener = await submit({ command: ['sh', '-c', 'echo listening; nc -l -p 8080 -e echo secret'] });
    await waitLogged(listener, 'listening');
    const api = new URL(pool.stack.apiUrl);
    const probe = (what: string, cmd: string) => `if ${cmd} >/dev/null 2>&1; then echo "${what} reached"; else echo "${what} unreachable"; fi`;
    const script = [
      probe('own-loopback-8080', 'nc -w 2 127.0.0.1 8080 </dev/null'),
      probe('host-api', `wget -T 2 -q -O- http://${api.hostname}:${api.port}/v1/health`),
      probe('metadata', 'wget -T 2 -q -O- http://169.254.169.254/latest/meta-data/'),
      probe('private-network', 'nc -w 2 10.0.0.1 22 </dev/null'),
    ].join('; ');
    const prober = await waitFinal(await submit({ command: ['sh', '-c', script] }));
    expect(prober.status).toBe('SUCCEEDED');
    expect(await stdout(prober.id)).toEqual(['own-loopback-8080 unreachable', 'host-api unreachable', 'metadata unreachable', 'private-network unreachable']);
    // the listener is still there, unreached
    expect((await job(listener)).status).toBe('RUNNING');
    expect(await stdout(listener)).toEqual(['listening']);
    expect((await consumer.api.del(`/v1/jobs/${listener}`)).status).toBe(202);
    await waitFinal(listener);
  }, 60_000);

  it('places inputs at /inputs, returns /outputs and saves /checkpoints (the paths every container gets)', async () => {
    const csv = 'a,b\n1,2\n';
    const sha = createHash('sha256').update(csv).digest('hex');
    const f = await consumer.api.post('/v1/files', { name: 'train.csv', size: csv.length, sha256: sha });
    expect(f.status, JSON.stringify(f.body)).toBe(201);
    expect((await fetch(f.body.uploadUrl, { method: 'PUT', body: csv })).status).toBe(200);
    const script = [
      'echo dirs $GPUPOOL_INPUT_DIR $GPUPOOL_OUTPUT_DIR $GPUPOOL_CHECKPOINT_DIR',
      'cat /inputs/data/train.csv > /outputs/copy.txt',
      'echo 7 > /checkpoints/count',
      // inputs are the consumer's as uploaded: read-only inside
      '(echo x > /inputs/data/train.csv) 2>/dev/null && echo inputs-writable || echo inputs-read-only',
    ].join('; ');
    const id = await submit({ command: ['sh', '-c', script], inputs: [{ file: f.body.file.id, path: 'data/train.csv' }], checkpoint: { intervalSeconds: 60 } });
    const done = await waitFinal(id, 60_000);
    expect(done, JSON.stringify(await stdout(id))).toMatchObject({ status: 'SUCCEEDED', exitCode: 0 });
    expect(await stdout(id)).toEqual(expect.arrayContaining(['dirs /inputs /outputs /checkpoints', 'inputs-read-only']));
    const outputs = (await consumer.api.get(`/v1/jobs/${id}/outputs`)).body.items as { path: string; url: string }[];
    expect(outputs.map((o) => o.path)).toEqual(['copy.txt']);
    expect(await (await fetch(outputs[0].url)).text()).toBe(csv);
    // the last checkpoint, saved when the container ended
    expect(done.lastCheckpoint).toMatchObject({ files: 1, bytes: 2, attemptId: done.attempts.at(-1).id });
  }, 90_000);

  it('restores /checkpoints into the next attempt of the job (a retry here)', async () => {
    const script = 'if [ -f /checkpoints/count ]; then echo restored $(cat /checkpoints/count); else echo 41 > /checkpoints/count; exit 3; fi';
    const id = await submit({ command: ['sh', '-c', script], checkpoint: { intervalSeconds: 60 }, retry: { onExitCodes: [3], max: 1, backoffSeconds: 0 } });
    const done = await waitFinal(id, 60_000);
    expect(done, JSON.stringify(await stdout(id))).toMatchObject({ status: 'SUCCEEDED', exitCode: 0 });
    expect(done.attempts).toHaveLength(2);
    expect(await stdout(id)).toContain('restored 41');
  }, 90_000);

  it('cancel stops the container within the grace period, even one that ignores SIGTERM', async () => {
    const id = await submit({ command: ['sh', '-c', 'trap "" TERM; echo started; while true; do sleep 1; done'] });
    await waitLogged(id, 'started');
    const at = Date.now();
    expect((await consumer.api.del(`/v1/jobs/${id}`)).status).toBe(202);
    await eventually(async () => ((await containersOf(`gpupool.job=${id}`)) === '' ? true : undefined), 20_000, 'container gone');
    const stoppedMs = Date.now() - at;
    expect((await waitFinal(id)).status).toBe('CANCELLED');
    // docker stop -t 2 SIGKILLs at the grace; the rest is the cancel reaching the agent (its heartbeat)
    expect(stoppedMs).toBeGreaterThanOrEqual(GRACE_S * 1000);
    expect(stoppedMs).toBeLessThan(GRACE_S * 1000 + 8_000);
  }, 40_000);

  it('maxDurationSeconds ends a container TIMED_OUT', async () => {
    const done = await waitFinal(await submit({ command: ['sh', '-c', 'echo started; sleep 60'], maxDurationSeconds: 1 }));
    expect(done).toMatchObject({ status: 'TIMED_OUT', reason: 'TIMED_OUT' });
    expect(await containersOf(`gpupool.job=${done.id}`)).toBe('');
  }, 40_000);

  it('kill -9 of the agent and its guard, then a restart: the container it left is found by its labels and removed, the job re-placed', async () => {
    const agent = pool.agents.find((a) => a.name === 'dk-a')!;
    const id = await submit({ command: ['sh', '-c', 'echo started $GPUPOOL_ATTEMPT_ID; sleep 300'] });
    await waitLogged(id, `started ${(await job(id)).attempts[0].id}`);
    const first = (await job(id)).attempts[0].id;
    // the guard killed first, as systemd's KillMode=mixed may do when the agent dies: the container stays
    // behind (test/agent/orphan-guard.test.ts shows the guard removing it when it survives the agent)
    const guards = guardPids(`gpupool-${first}`);
    expect(guards).toHaveLength(1);
    for (const pid of guards) process.kill(pid, 'SIGKILL');
    agent.proc.kill('SIGKILL');
    await agent.exited;
    expect(await containersOf(`gpupool.attempt=${first}`)).not.toBe('');
    // attempts.json forgotten (as when the crash came between `docker run` and the write): labels alone must do
    rmSync(path.join(pool.dir, 'dk-a', 'attempts.json'), { force: true });
    pool.agents.splice(pool.agents.indexOf(agent), 1);
    await pool.addAgent({ name: 'dk-a', gpus: '2xA100-80', providerKey: provider.key, env: dockerEnv() });
    await eventually(async () => ((await containersOf(`gpupool.attempt=${first}`)) === '' ? true : undefined), 30_000, 'leftover container removed');
    // re-placed: a later attempt runs (seen here: the first re-placement, dispatched while the restarted agent
    // was still reaping, sometimes ends DISPATCH_TIMEOUT after 10 s and the next one runs; noted for the poller)
    const replaced = await eventually(async () => ((j) => (j.attempts.length >= 2 && j.attempts.at(-1).status === 'RUNNING' ? j : undefined))(await job(id)), 45_000, 're-placed');
    expect(replaced.attempts[0]).toMatchObject({ id: first, status: 'LOST' });
    await waitLogged(id, `started ${replaced.attempts.at(-1).id}`);
    await consumer.api.del(`/v1/jobs/${id}`);
    await waitFinal(id);
  }, 90_000);

  it("a --gpus request on a host without the NVIDIA runtime (exit 125) is the node's fault: attempt LOST, consumer not charged", async () => {
    // GPUs found through nvidia-smi (a real capture), so the agent passes --gpus as on a GPU host
    writeFileSync(path.join(binDir, 'nvidia-smi'), `#!/bin/sh\nexec ${FAKE_SMI} "$@"\n`, { mode: 0o755 });
    await pool.addAgent({
      name: 'dk-gpu', gpus: '', providerKey: provider.key,
      env: dockerEnv({
        PATH: `${binDir}:${process.env.PATH}`,
        FAKE_NVIDIA_SMI_FIXTURE: 'h100-sxm-1x-query-allfields.csv',
        FAKE_NVIDIA_SMI_LIST_FIXTURE: 'h100-sxm-1x-list.txt',
        FAKE_NVIDIA_SMI_TELEMETRY_FIXTURE: 'h100-sxm-1x-telemetry.csv',
      }),
    });
    const id = await submit({ command: ['sh', '-c', 'echo never'], resources: { gpus: 1, gpuModels: ['H100'] } });
    const lost = await eventually(async () => ((j) => (j.attempts[0]?.status === 'LOST' ? j : undefined))(await job(id)), 30_000, 'first attempt lost');
    expect(lost.attempts[0]).toMatchObject({ reason: 'NODE_LOST' });
    expect(lost.attempts[0].charged ?? 0).toBe(0);
    expect(await stdout(id)).not.toContain('never');
    const logs = (await consumer.api.get(`/v1/jobs/${id}/logs`)).body.items.map((l: { text: string }) => l.text).join('\n');
    expect(logs).toMatch(/could not select device driver/);
    // no job can get past this on that node: it leaves service, saying what to fix, and takes no more work
    const gpuNode = pool.agents.find((a) => a.name === 'dk-gpu')! as unknown as { nodeId: string };
    const node = await eventually(async () => ((n) => (n.status === 'DRAINING' ? n : undefined))((await provider.api.get(`/v1/nodes/${gpuNode.nodeId}`)).body.node), 15_000, 'node drained');
    expect(node.statusReason).toMatch(/^node fault: docker cannot give GPUs to containers: the NVIDIA Container Toolkit .*could not select device driver/);
    expect((await job(id)).attempts.filter((a: { nodeId: string }) => a.nodeId === gpuNode.nodeId)).toHaveLength(1);
    await consumer.api.del(`/v1/jobs/${id}`);
    await waitFinal(id);
  }, 60_000);

  it("consumer: a workload that exits 125 and prints docker's words is its own failure: FAILED, charged, the node stays in service", async () => {
    const agent = pool.agents.find((a) => a.name === 'dk-a')! as unknown as { nodeId: string };
    const said = 'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].';
    const id = await submit({ command: ['sh', '-c', `echo started; sleep 1; echo '${said}' >&2; exit 125`] });
    const done = await waitFinal(id);
    expect(done).toMatchObject({ status: 'FAILED', exitCode: 125 });
    // one attempt ran the workload and none was blamed on the node; under CI load the first dispatch may
    // reach the agent after the local 10 s dispatch deadline (DISPATCH_TIMEOUT, no container started), which
    // is the deadline doing its job, not this exit code's verdict
    const ran = done.attempts.filter((a: { reason?: string }) => a.reason !== 'DISPATCH_TIMEOUT');
    expect(ran, JSON.stringify(done.attempts)).toHaveLength(1);
    expect(ran[0]).toMatchObject({ status: 'FAILED' });
    expect(done.cost.charged).toBeGreaterThan(0);
    expect(await stdout(id)).toEqual(['started']);
    expect((await provider.api.get(`/v1/nodes/${agent.nodeId}`)).body.node.status).toBe('ONLINE');
  }, 60_000);
  it('a drain lets a running container finish, and the node takes no new work meanwhile', async () => {
    const agent = pool.agents.find((a) => a.name === 'dk-a')! as unknown as { nodeId: string };
    const id = await submit({ command: ['sh', '-c', 'echo started; sleep 3; echo done'] });
    await waitLogged(id, 'started');
    expect((await provider.api.patch(`/v1/nodes/${agent.nodeId}`, { drain: true })).status).toBe(200);
    // work that only this node could take waits while it drains
    const waiting = await submit({ command: ['echo', 'later'] });
    const done = await waitFinal(id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', exitCode: 0 });
    expect(done.attempts).toHaveLength(1);
    expect(await stdout(id)).toEqual(['started', 'done']);
    expect(await job(waiting)).toMatchObject({ status: 'QUEUED' });
    expect((await provider.api.get(`/v1/nodes/${agent.nodeId}`)).body.node.status).toBe('DRAINING');
    // undrained, it takes the waiting job
    expect((await provider.api.patch(`/v1/nodes/${agent.nodeId}`, { drain: false })).status).toBe(200);
    expect(await waitFinal(waiting)).toMatchObject({ status: 'SUCCEEDED' });
  }, 90_000);
});
