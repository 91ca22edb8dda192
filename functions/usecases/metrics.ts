// The operator's metrics: what the CloudWatch dashboard and alarms (lib/constructs/observability.ts) read.
// Use cases call one-line `record…` functions; behind them sits a sink. On AWS the sink is Powertools
// Metrics, which writes CloudWatch Embedded Metric Format (EMF) lines to stdout that CloudWatch Logs turns
// into metrics: no PutMetricData call, no IAM grant, no latency on the request path. Anywhere else (the
// local stack, tests) the sink is a no-op unless POWERTOOLS_METRICS_NAMESPACE is set, so nothing prints
// EMF JSON by surprise. docs/operations.md lists each metric and where it comes from.
//
// The sink is module state rather than a field of Deps on purpose: the call sites live in files other
// features own (placement, reaper, checker, agent), and a one-line call there is easier to keep than a
// new port threaded through every builder of Deps.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Attempt, Job } from '../domain/model';

/** Every metric gpupool emits: the dashboard and alarms name these, the tests pin them. */
export const METRIC = {
  /** a job claimed a node (inline on submit, on a freed node, or by the sweep) */
  placements: 'Placements',
  /** how long one placement took: candidate read, ranking and the claim transaction, ms */
  placementLatency: 'PlacementLatency',
  /** a job had ranked candidates but lost the claim on every one it tried (contention) */
  placementFailures: 'PlacementFailures',
  /** gauge from each scheduled sweep: jobs it saw queued and could not place (capped by its read) */
  queuedJobs: 'QueuedJobs',
  /** first attempt RUNNING minus the job's createdAt, ms: the submit → running budget */
  submitToRunning: 'SubmitToRunning',
  /** attempts lost to their node; also per `reason` dimension */
  lostAttempts: 'LostAttempts',
  /** probes sent and probes that failed (checker runs) */
  probes: 'Probes',
  probesFailed: 'ProbesFailed',
  /** nodes the checker quarantined (a probe's or canary's proof) */
  nodesQuarantined: 'NodesQuarantined',
  /** differences the scheduled ledger audit found: 0 when the ledger balances */
  ledgerAuditDifference: 'LedgerAuditDifference',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** CloudWatch namespace of every gpupool metric; the stage is the `service` dimension (gpupool-<stage>). */
export const METRICS_NAMESPACE = 'Gpupool';
export const serviceName = (stage: string) => `gpupool-${stage}`;

export type MetricUnitName = 'Count' | 'Milliseconds';

/** Where recorded values go. `dimensions` beyond the service one make a separate metric. */
export interface MetricsSink {
  add(name: MetricName, unit: MetricUnitName, value: number, dimensions?: Readonly<Record<string, string>>): void;
  /** writes what was recorded; called once at the end of every invocation */
  flush(): void;
}

export const noopSink: MetricsSink = { add: () => undefined, flush: () => undefined };

/** Powertools Metrics: batches an invocation's values into one EMF line (at most 100 values per metric). */
export function powertoolsSink(metrics: Metrics = new Metrics()): MetricsSink {
  return {
    add(name, unit, value, dimensions) {
      if (!dimensions) {
        metrics.addMetric(name, MetricUnit[unit], value);
        return;
      }
      // a dimensioned value is its own metric, and rare (a lost attempt): one EMF line at once
      const one = metrics.singleMetric();
      one.addDimensions({ ...dimensions });
      one.addMetric(name, MetricUnit[unit], value);
    },
    flush() {
      // publishing an empty batch makes Powertools warn on every invocation that recorded nothing
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

/**
 * On when POWERTOOLS_METRICS_NAMESPACE is set (the CDK sets it on every function) and
 * POWERTOOLS_METRICS_DISABLED is not true (Powertools itself also honours that one).
 */
export function sinkFromEnv(env: NodeJS.ProcessEnv = process.env): MetricsSink {
  const disabled = /^(1|true|yes|on)$/i.test(env.POWERTOOLS_METRICS_DISABLED ?? '');
  return env.POWERTOOLS_METRICS_NAMESPACE && !disabled ? powertoolsSink() : noopSink;
}

let sink: MetricsSink | undefined;
const current = () => (sink ??= sinkFromEnv());

/** Replaces the sink (tests, or a local stack that wants metrics); undefined: choose from env again. */
export function setMetricsSink(s: MetricsSink | undefined): void {
  sink = s;
}

/** Metrics must never break the work they describe: a bad value is dropped, not thrown. */
function add(name: MetricName, unit: MetricUnitName, value: number, dimensions?: Record<string, string>): void {
  if (!Number.isFinite(value) || value < 0) return;
  try {
    current().add(name, unit, value, dimensions);
  } catch (e) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'metric dropped', metric: name, error: (e as Error).message }));
  }
}

export function flushMetrics(): void {
  try {
    current().flush();
  } catch (e) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'metrics flush failed', error: (e as Error).message }));
  }
}

/** Wraps a handler so whatever it recorded is written when it returns or throws. */
export function withMetrics<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } finally {
      flushMetrics();
    }
  };
}

export const recordPlacement = (ms: number) => {
  add(METRIC.placements, 'Count', 1);
  add(METRIC.placementLatency, 'Milliseconds', Math.round(ms));
};
export const recordPlacementFailure = () => add(METRIC.placementFailures, 'Count', 1);
export const recordQueuedJobs = (n: number) => add(METRIC.queuedJobs, 'Count', n);

export function recordLostAttempts(reason: string, n = 1): void {
  if (n <= 0) return;
  add(METRIC.lostAttempts, 'Count', n);
  add(METRIC.lostAttempts, 'Count', n, { reason });
}

/** Records the attempt if this transition lost it (an agent's finish may report a lost or drained run). */
export function recordIfLost(job: Pick<Job, 'attempts'>, attemptId: string): void {
  const a: Attempt | undefined = job.attempts.find((x) => x.id === attemptId);
  if (a?.status === 'LOST') recordLostAttempts(a.reason ?? 'UNKNOWN');
}

/** Submit → running, for a job's first attempt only: re-placements show up as lost attempts instead. */
export function recordStarted(job: Pick<Job, 'attempts' | 'createdAt'>, attemptId: string): void {
  const a = job.attempts.find((x) => x.id === attemptId);
  if (a?.n === 0 && a.startedAt !== undefined) add(METRIC.submitToRunning, 'Milliseconds', a.startedAt - job.createdAt);
}

export function recordCheckerRun(r: { probed: number; failed: number }): void {
  add(METRIC.probes, 'Count', r.probed);
  add(METRIC.probesFailed, 'Count', r.failed);
}
export const recordQuarantine = () => add(METRIC.nodesQuarantined, 'Count', 1);
/** For the scheduled ledger audit: how many accounts' balances differ from their entries. */
export const recordLedgerAudit = (differences: number) => add(METRIC.ledgerAuditDifference, 'Count', differences);
