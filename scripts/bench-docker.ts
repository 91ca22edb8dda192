// Submit → the container's first instruction on a real Docker Engine (scripts/test-docker-engine.sh), with
// the image already on the node and with a pull from a local registry, p50/p99 over BENCH_DOCKER_JOBS jobs
// (default 20), and where the time goes. `npm run bench` calls dockerStartFigures(); alone:
// `npx tsx scripts/bench-docker.ts` prints the figures. Not a test: it measures.
//
// Method: the local stack in process, one real agent on GPUPOOL_RUNTIME=docker (DOCKER_HOST = the private
// engine), jobs one after another on an idle node (`sh -c 'echo first'`). Clocks: the bench, the control
// plane and the agent run on this machine and read the same clock, so the stages are differences of:
// submit (the bench, before POST), the attempt's assignedAt and startedAt (control plane), the pull's
// duration (the attempt's pullSeconds, as the agent measured it; else its "pulling …" line to the next),
// the engine's create event (docker events, timeNano) and the first stdout line's ts (the agent read it
// from the pipe). The engine's start event comes after the process has already written (runc reports
// the start once the process runs), so the start is measured from create to the first line.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatApiKey } from '../functions/domain/api-key';
import { newKeyId, newSecret } from '../functions/store/keys-store';
import { startAgent, type AgentProcess } from '../lib/local/agent-process';
import { startLocalStack, type LocalStack } from '../lib/local/local-stack';
import { client, eventually } from '../test/helpers/api';
import { serveImage, type ServedImage } from '../test/helpers/image-registry';

const SCRIPT = fileURLToPath(new URL('./test-docker-engine.sh', import.meta.url));
const TEST_IMAGE = 'gpupool-test/busybox:1';
const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

export interface Percentiles {
  p50: number;
  p99: number;
  n: number;
}

/** Milliseconds per stage, medians over the jobs (a stage the run could not see is absent). */
export interface Stages {
  /** submit → attempt ASSIGNED: the inline match, the placement transaction, the dispatch put on the node's queue */
  placement?: number;
  /** ASSIGNED → RUNNING: the agent's long poll returns the message, its start call is written */
  agentReceiveAndStart?: number;
  /** the image pull, where there was one */
  pull?: number;
  /** RUNNING → the engine's create event, less the pull: the start answer back at the agent, the image
   * checked (`docker image inspect`), the `docker run` client started, the create API call */
  agentToCreate?: number;
  /** create event → the first stdout line: the container started (mounts, the scratch volume, cgroups, the
   * network namespace, runc) and the command's first instruction */
  createToFirstInstruction?: number;
}

export interface StartFigure extends Percentiles {
  stages: Stages;
}

export type DockerStartFigures =
  | { skip: string }
  | {
      /** submit → first instruction, the image already on the node */
      cached: StartFigure;
      /** `docker run --rm --network none IMAGE true` alone, timed from this process at the same time: what
       * the engine costs on this machine now (the machine's load moves every figure) */
      dockerRunAlone: Percentiles;
      /** the same with a pull from a local registry of an image none of whose layers is on the node */
      pull?: StartFigure;
      /** which registry served the pulls */
      registry?: string;
      /** why `pull` is absent */
      pullPending?: string;
      jobs: number;
    };

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

interface JobTimes {
  attemptId: string;
  submit: number;
  assignedAt?: number;
  startedAt?: number;
  pullMs?: number;
  first?: number;
}

/**
 * Starts the engine (and its registry when the script has one), a local stack and a docker agent, runs the
 * jobs, stops everything it started. `jobs` per figure (at least 20 for a p99 that means something).
 */
export async function dockerStartFigures(opts: { jobs?: number; log?: (line: string) => void } = {}): Promise<DockerStartFigures> {
  const jobs = opts.jobs ?? Number(process.env.BENCH_DOCKER_JOBS ?? 20);
  const say = opts.log ?? (() => {});
  const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-bench-docker-'));
  const engineDir = path.join(dir, 'engine');
  let stack: LocalStack | undefined;
  let agent: AgentProcess | undefined;
  let served: ServedImage | undefined;
  try {
    const started = await run(SCRIPT, ['start', engineDir]);
    if (started.code === 2) return { skip: started.stderr.trim().split('\n').pop() ?? 'docker engine unavailable' };
    const host = /DOCKER_HOST=(\S+)/.exec(started.stdout)?.[1];
    if (started.code !== 0 || !host) throw new Error(`docker engine did not start (exit ${started.code}): ${started.stderr.slice(-2000)}`);
    const env = { ...process.env, DOCKER_HOST: host };
    const docker = (...args: string[]) => run('docker', args, env, 120_000);

    const adminKey = formatApiKey(newKeyId(), newSecret());
    stack = await startLocalStack({ port: 0, adminKey, log: () => {} });
    const admin = client(stack.apiUrl, adminKey);
    const provider = (await admin.post('/v1/accounts', { name: 'bench provider', role: 'provider' })).body;
    const consumer = (await admin.post('/v1/accounts', { name: 'bench consumer', role: 'consumer' })).body;
    await admin.post(`/v1/accounts/${consumer.account.id}/credits`, { amount: 1_000_000_000_000, memo: 'bench' });
    const c = client(stack.apiUrl, consumer.apiKey);
    agent = startAgent({
      name: 'bench-docker', gpus: '1xA100-80', apiUrl: stack.apiUrl, providerKey: provider.apiKey, stateDir: path.join(dir, 'agent'),
      env: { GPUPOOL_DRAIN_SECONDS: '0', GPUPOOL_RUNTIME: 'docker', DOCKER_HOST: host },
      onLine: () => {},
    });
    await eventually(async () => ((await stack!.deps.nodes.available(undefined, 100)).some((n) => n.name === 'bench-docker') ? true : undefined), 60_000, 'docker agent online');

    const runJobs = async (image: string, before?: () => Promise<unknown>): Promise<StartFigure> => {
      // one unmeasured job first: the agent's first docker calls pay for loading the CLI from disk
      const since = Math.floor(Date.now() / 1000) - 1;
      const times: JobTimes[] = [];
      for (let i = 0; i <= jobs; i++) {
        await before?.();
        const submit = Date.now();
        const r = await c.post('/v1/jobs', { image, command: ['sh', '-c', 'echo first'], resources: { gpus: 1 }, maxDurationSeconds: 60 });
        if (r.status !== 202) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
        const id = r.body.job.id as string;
        const job = await eventually(async () => ((j) => (FINAL.includes(j.status) ? j : undefined))((await c.get(`/v1/jobs/${id}`)).body.job), 60_000, `job ${id}`);
        if (job.status !== 'SUCCEEDED') throw new Error(`job ${id} ${job.status}: ${JSON.stringify((await c.get(`/v1/jobs/${id}/logs`)).body.items.slice(-5))}`);
        const lines = (await c.get(`/v1/jobs/${id}/logs`)).body.items as { seq: number; stream: string; text: string; ts: number }[];
        const attempt = job.attempts[job.attempts.length - 1];
        const pulling = lines.find((l) => l.stream === 'system' && l.text.startsWith('pulling '));
        const afterPull = pulling && lines.find((l) => l.stream === 'system' && l.seq > pulling.seq && /^pulled |^Status: /.test(l.text));
        if (i === 0) continue;
        times.push({
          attemptId: attempt.id,
          submit,
          assignedAt: attempt.assignedAt,
          startedAt: attempt.startedAt,
          pullMs: attempt.pullSeconds !== undefined ? attempt.pullSeconds * 1000 : pulling && afterPull ? afterPull.ts - pulling.ts : undefined,
          first: lines.find((l) => l.stream === 'stdout' && l.text === 'first')?.ts,
        });
      }
      const events = await containerEvents(docker, since);
      const total = times.filter((t) => t.first).map((t) => t.first! - t.submit);
      const med = (f: (t: JobTimes, e: { create?: number; start?: number }) => number | undefined) => {
        const xs = times.map((t) => f(t, events.get(`gpupool-${t.attemptId}`) ?? {})).filter((x): x is number => x !== undefined && Number.isFinite(x));
        return xs.length ? Math.round(pct(xs, 50)) : undefined;
      };
      const d = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : b - a);
      return {
        p50: pct(total, 50),
        p99: pct(total, 99),
        n: total.length,
        stages: {
          placement: med((t) => d(t.submit, t.assignedAt)),
          agentReceiveAndStart: med((t) => d(t.assignedAt, t.startedAt)),
          pull: med((t) => t.pullMs),
          agentToCreate: med((t, e) => ((x) => (x === undefined ? undefined : x - (t.pullMs ?? 0)))(d(t.startedAt, e.create))),
          createToFirstInstruction: med((t, e) => d(e.create, t.first)),
        },
      };
    };

    const alone: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await docker('run', '--rm', '--network', 'none', TEST_IMAGE, 'true');
      alone.push(Math.round(performance.now() - t));
    }
    const dockerRunAlone = { p50: pct(alone, 50), p99: pct(alone, 99), n: alone.length };
    say(`docker start bench: ${jobs} jobs with ${TEST_IMAGE} on the node`);
    const cached = await runJobs(TEST_IMAGE);
    // an image of its own layers (a random file under busybox), so every pull downloads every layer
    const ctx = path.join(dir, 'cold');
    mkdirSync(ctx);
    writeFileSync(path.join(ctx, 'nonce'), randomUUID());
    copyFileSync('/bin/busybox', path.join(ctx, 'busybox'));
    writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY nonce /nonce\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n');
    const built = await run('docker', ['build', '-q', '-t', 'gpupool-bench/cold:1', ctx], { ...env, DOCKER_BUILDKIT: '0' });
    if (built.code !== 0) return { cached, dockerRunAlone, pullPending: `could not build the pull image: ${built.stderr.trim().slice(-300)}`, jobs };
    // Debian's docker-registry beside the engine (`test-docker-engine.sh registry` prints REGISTRY=host:port)
    const reg = await run(SCRIPT, ['registry', engineDir]);
    const registry = reg.code === 0 ? /REGISTRY=(\S+)\s*$/.exec(reg.stdout)?.[1] : undefined;
    const noRegistry = reg.code === 64 ? 'scripts/test-docker-engine.sh runs no registry yet' : `scripts/test-docker-engine.sh registry failed (exit ${reg.code}: ${reg.stderr.trim().split('\n').pop() ?? ''})`;
    let remote: string;
    let which: string;
    if (registry) {
      // the registry scripts/test-docker-engine.sh runs (Debian's docker-registry)
      remote = `${registry}/gpupool-bench/cold:1`;
      which = `docker-registry at ${registry}`;
      for (const args of [['tag', 'gpupool-bench/cold:1', remote], ['push', remote]]) {
        const r = await docker(...args);
        if (r.code !== 0) return { cached, dockerRunAlone, pullPending: `docker ${args[0]} to the local registry failed: ${r.stderr.trim().slice(-300)}`, jobs };
      }
    } else {
      // until the engine script runs one: the tests' loopback registry (the v2 pull API in Node)
      served = await serveImage(host, 'gpupool-bench/cold:1', 'gpupool-bench/cold', '1');
      remote = served.ref;
      which = `test/helpers/image-registry.ts (Node, loopback): ${noRegistry}`;
    }
    await docker('image', 'rm', '-f', 'gpupool-bench/cold:1');
    say(`docker start bench: ${jobs} jobs pulling ${remote} (${which})`);
    // removed from the node before every job (with its layers): each start pulls all of it
    const pull = await runJobs(remote, () => docker('image', 'rm', '-f', remote));
    return { cached, dockerRunAlone, pull, registry: which, jobs };
  } finally {
    await agent?.stop('SIGTERM').catch(() => undefined);
    await served?.close();
    await stack?.stop().catch(() => undefined);
    await run(SCRIPT, ['stop', engineDir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The engine's create and start events per container name since `since` (epoch s), in epoch ms. */
async function containerEvents(docker: (...a: string[]) => Promise<{ code: number; stdout: string }>, since: number) {
  const until = Math.ceil(Date.now() / 1000) + 1;
  const r = await docker('events', '--since', String(since), '--until', String(until), '--filter', 'type=container', '--filter', 'event=create', '--filter', 'event=start', '--format', '{{json .}}');
  const out = new Map<string, { create?: number; start?: number }>();
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as { Action?: string; status?: string; timeNano?: number; Actor?: { Attributes?: { name?: string } } };
    const name = e.Actor?.Attributes?.name;
    const action = e.Action ?? e.status;
    if (!name || (action !== 'create' && action !== 'start') || !e.timeNano) continue;
    const entry = out.get(name) ?? {};
    entry[action] = e.timeNano / 1e6;
    out.set(name, entry);
  }
  return out;
}

/** Lines for the bench's output. */
export function formatDockerFigures(f: DockerStartFigures): string[] {
  if ('skip' in f) return [`submit → first instruction (docker): skipped: ${f.skip}`];
  const stages = (s: Stages) =>
    Object.entries(s)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ');
  const lines = [
    `submit → container's first instruction, image on the node (${f.cached.n} jobs): p50 ${f.cached.p50} ms, p99 ${f.cached.p99} ms (budget p50 ≤ 1500 ms)`,
    `  where the time goes (medians): ${stages(f.cached.stages)}`,
    `  \`docker run --rm --network none\` alone at the same time (${f.dockerRunAlone.n} runs): p50 ${f.dockerRunAlone.p50} ms, p99 ${f.dockerRunAlone.p99} ms`,
  ];
  if (f.pull) lines.push(`submit → container's first instruction, pulled from a local registry (${f.pull.n} jobs, ${f.registry}): p50 ${f.pull.p50} ms, p99 ${f.pull.p99} ms`, `  where the time goes (medians): ${stages(f.pull.stages)}`);
  else lines.push(`submit → first instruction with a pull: pending (${f.pullPending})`);
  return lines;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  dockerStartFigures({ log: (l) => console.log(l) })
    .then((f) => {
      for (const l of formatDockerFigures(f)) console.log(l);
      process.exit(0);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
