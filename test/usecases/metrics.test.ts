// The metrics port: the EMF lines Powertools writes (captured from stdout: names, units, dimensions,
// values), that nothing is written unless POWERTOOLS_METRICS_NAMESPACE turns metrics on, and that the
// real use cases (placement, agent start, losing a node's attempts) record through it (Deps.metrics).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Caller, Job } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { startAttempt } from '../../functions/usecases/agent';
import { submitJob } from '../../functions/usecases/jobs';
import { observed } from '../../functions/observability/invocation';
import { METRIC } from '../../functions/observability/metric-names';
import { metricsOn, noopSink, powertoolsSink, sinkFromEnv, type MetricsPort, type MetricsSink } from '../../functions/observability/metrics';
import { loseLiveAttempts } from '../../functions/usecases/node-writes';
import { tryPlace } from '../../functions/usecases/placement';
import { insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

type Emf = { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } } & Record<string, unknown>;

/** Every EMF line written to stdout while `fn` runs (and what went to stderr, which must stay empty). */
function capture(fn: () => void): { lines: Emf[]; stderr: string } {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: any) => (out.push(String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: any) => (err.push(String(c)), true));
  try {
    fn();
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const lines = out.join('').split('\n').filter((l) => l.startsWith('{'));
  return { lines: lines.map((l) => JSON.parse(l) as Emf), stderr: err.join('') };
}

const job = (attempts: Partial<Job['attempts'][number]>[], createdAt = 1_000) =>
  ({ createdAt, attempts: attempts.map((a, n) => ({ id: `a${n}`, n, nodeId: 'x', status: 'ASSIGNED', assignedAt: createdAt, pricePerGpuHour: 1, ...a })) }) as Job;

describe('EMF output (Powertools)', () => {
  let m: MetricsPort;
  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'Gpupool');
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'gpupool-test');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', undefined as never);
    vi.stubEnv('POWERTOOLS_DEV', undefined as never);
    m = metricsOn(powertoolsSink(new Metrics()));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('batches an invocation into one line: namespace, service dimension, units, every value', () => {
    const { lines, stderr } = capture(() => {
      m.placement(12.4);
      m.placement(3);
      m.queuedJobs(7);
      m.started(job([{ status: 'RUNNING', startedAt: 1_080 }]), 'a0');
      m.checkerRun({ probed: 10, failed: 2 });
      m.flush();
    });
    expect(stderr).toBe('');
    expect(lines).toHaveLength(1);
    const [emf] = lines;
    const [def] = emf._aws.CloudWatchMetrics;
    expect(def.Namespace).toBe('Gpupool');
    expect(def.Dimensions).toEqual([['service']]);
    expect(emf.service).toBe('gpupool-test');
    expect(Object.fromEntries(def.Metrics.map((m) => [m.Name, m.Unit]))).toEqual({
      [METRIC.placements]: 'Count',
      [METRIC.placementLatency]: 'Milliseconds',
      [METRIC.queuedJobs]: 'Count',
      [METRIC.submitToRunning]: 'Milliseconds',
      [METRIC.probes]: 'Count',
      [METRIC.probesFailed]: 'Count',
    });
    expect(emf).toMatchObject({ Placements: [1, 1], PlacementLatency: [12, 3], QueuedJobs: 7, SubmitToRunning: 80, Probes: 10, ProbesFailed: 2 });
    expect(Math.abs(emf._aws.Timestamp - Date.now())).toBeLessThan(60_000);
  });

  it('writes a lost attempt twice: per reason at once, and in the stage total at the flush', () => {
    const now = capture(() => m.lostAttempts('NODE_LOST', 2));
    expect(now.lines).toHaveLength(1);
    expect(now.lines[0]._aws.CloudWatchMetrics[0]).toMatchObject({ Dimensions: [['service', 'reason']], Metrics: [{ Name: 'LostAttempts', Unit: 'Count' }] });
    expect(now.lines[0]).toMatchObject({ service: 'gpupool-test', reason: 'NODE_LOST', LostAttempts: 2 });
    const later = capture(() => m.flush());
    expect(later.lines).toHaveLength(1);
    expect(later.lines[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service']]);
    expect(later.lines[0]).toMatchObject({ LostAttempts: 2 });
    expect(later.lines[0].reason).toBeUndefined();
  });

  it('writes nothing, and warns about nothing, when an invocation recorded nothing', () => {
    const { lines, stderr } = capture(() => m.flush());
    expect(lines).toEqual([]);
    expect(stderr).toBe('');
  });

  it('flushes when the wrapped handler throws', async () => {
    const failing = observed(() => m, async () => {
      m.queuedJobs(3);
      throw new Error('boom');
    });
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: any) => (out.push(String(c)), true));
    await expect(failing()).rejects.toThrow('boom');
    spy.mockRestore();
    expect(out.join('')).toContain('"QueuedJobs":3');
  });

  it('drops values that are not finite non-negative numbers instead of throwing', () => {
    const { lines } = capture(() => {
      m.queuedJobs(Number.NaN);
      m.queuedJobs(-1);
      m.lostAttempts('NODE_LOST', 0);
      m.flush();
    });
    expect(lines).toEqual([]);
  });

  it('honours POWERTOOLS_METRICS_DISABLED inside Powertools too', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    m = metricsOn(powertoolsSink(new Metrics()));
    const { lines } = capture(() => {
      m.queuedJobs(1);
      m.flush();
    });
    expect(lines).toEqual([]);
  });
});

describe('choosing the sink', () => {
  afterEach(() => vi.unstubAllEnvs());

  it.each([
    [{}, 'off'],
    [{ POWERTOOLS_METRICS_NAMESPACE: 'Gpupool' }, 'on'],
    [{ POWERTOOLS_METRICS_NAMESPACE: 'Gpupool', POWERTOOLS_METRICS_DISABLED: 'true' }, 'off'],
    [{ POWERTOOLS_METRICS_NAMESPACE: 'Gpupool', POWERTOOLS_METRICS_DISABLED: 'false' }, 'on'],
  ])('%j → metrics %s', (env, want) => {
    expect(sinkFromEnv(env as NodeJS.ProcessEnv) === noopSink ? 'off' : 'on').toBe(want);
  });

  it('prints nothing by default (the local stack and tests set no namespace)', () => {
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', undefined as never);
    const m = metricsOn(sinkFromEnv());
    const { lines } = capture(() => {
      m.placement(5);
      m.lostAttempts('NODE_LOST');
      m.flush();
    });
    expect(lines).toEqual([]);
  });
});

describe('what the helpers record', () => {
  let seen: [string, number, Record<string, string> | undefined][];
  const memory: MetricsSink = { add: (name, _u, value, dims) => void seen.push([name, value, dims]), flush: () => undefined };
  const m = metricsOn(memory);
  beforeEach(() => {
    seen = [];
  });

  it.each([
    ['a first attempt', [{ status: 'RUNNING', startedAt: 1_250 }], 'a0', [[METRIC.submitToRunning, 250, undefined]]],
    ['a re-placed attempt (counted as lost instead)', [{ status: 'LOST' }, { status: 'RUNNING', startedAt: 9_000 }], 'a1', []],
    ['an attempt not started', [{ status: 'ASSIGNED' }], 'a0', []],
  ] as const)('submit → running: %s', (_, attempts, id, want) => {
    m.started(job(attempts as never), id);
    expect(seen).toEqual(want);
  });

  it.each([
    ['LOST', 'NODE_DRAINED', [[METRIC.lostAttempts, 1, undefined], [METRIC.lostAttempts, 1, { reason: 'NODE_DRAINED' }]]],
    ['SUCCEEDED', undefined, []],
  ] as const)('an attempt that ended %s', (status, reason, want) => {
    m.ifLost(job([{ status, reason }] as never), 'a0');
    expect(seen).toEqual(want);
  });
});

describe('the use cases record through the port (DynamoDB Local)', () => {
  let pool: Pool;
  let seen: string[];
  let consumer: Caller;
  beforeAll(async () => {
    // no timers: the test drives placement itself; a funded consumer, since placement holds escrow
    pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
    consumer = { accountId: (await pool.newAccount('consumer', 'metrics')).id, role: 'consumer', keyId: 'k' };
  }, 60_000);
  afterAll(async () => pool?.stop());
  beforeEach(() => {
    seen = [];
  });

  it('placement, start and a lost node each leave their metric', async () => {
    // the stack's deps with this test's sink as the metrics port, as a function's root would build them
    const d = { ...pool.stack.deps, metrics: metricsOn({ add: (name, _u, _v, dims) => void seen.push(dims ? `${name}/${dims.reason}` : name), flush: () => undefined }) };
    const id = 'metrics-node';
    const node = await insertNode(d, id, { model: 'V100', vramGb: 32, provider: 'metrics-provider' });
    const submitted = await submitJob(d, consumer, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: ['V100'] } }));
    let j = (await d.jobs.get(submitted.id))!;
    if (j.status === 'QUEUED') j = await tryPlace(d, j);
    expect(j.status, j.pendingReason).toBe('ASSIGNED');
    expect(seen).toEqual([METRIC.placements, METRIC.placementLatency]);

    await startAttempt(d, { accountId: 'metrics-provider', role: 'node', keyId: 'n', nodeId: id }, j.id, j.liveAttemptId!);
    expect(seen.at(-1)).toBe(METRIC.submitToRunning);

    seen = [];
    expect(await loseLiveAttempts(d, (await d.nodes.get(id))!, 'NODE_LOST')).toBe(1);
    expect(seen).toEqual(expect.arrayContaining([METRIC.lostAttempts, `${METRIC.lostAttempts}/NODE_LOST`]));
  }, 30_000);
});
