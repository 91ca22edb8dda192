// The operator's metrics: what the CloudWatch dashboard and alarms (lib/constructs/observability.ts) read.
// Use cases record through `d.metrics` (a port of Deps, built by each function's composition root); behind
// it sits a sink. On AWS the sink is Powertools Metrics, which writes CloudWatch Embedded Metric Format
// (EMF) lines to stdout that CloudWatch Logs turns into metrics: no PutMetricData call, no IAM grant, no
// latency on the request path. Anywhere else (the local stack, tests) the sink is a no-op unless
// POWERTOOLS_METRICS_NAMESPACE is set, so nothing prints EMF JSON by surprise. docs/operations.md lists
// each metric and where it comes from.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Attempt, Job } from '../domain/model';
import { logger } from './logger';
import { METRIC, type MetricName } from './metric-names';

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

/** What the use cases record, one method per event the dashboard shows. */
export interface MetricsPort {
  placement(ms: number): void;
  placementFailure(): void;
  queuedJobs(n: number): void;
  lostAttempts(reason: string, n?: number): void;
  /** records the attempt if this transition lost it (an agent's finish may report a lost or drained run) */
  ifLost(job: Pick<Job, 'attempts'>, attemptId: string): void;
  /** submit → running, for a job's first attempt only: re-placements show up as lost attempts instead */
  started(job: Pick<Job, 'attempts' | 'createdAt'>, attemptId: string): void;
  checkerRun(r: { probed: number; failed: number }): void;
  quarantine(): void;
  /** for the scheduled ledger audit: how many accounts' balances differ from their entries */
  ledgerAudit(differences: number): void;
  /** writes what this invocation recorded (functions/observability/invocation.ts calls it) */
  flush(): void;
}

export function metricsOn(sink: MetricsSink): MetricsPort {
  /** metrics must never break the work they describe: a bad value is dropped, not thrown */
  const add = (name: MetricName, unit: MetricUnitName, value: number, dimensions?: Record<string, string>) => {
    if (!Number.isFinite(value) || value < 0) return;
    try {
      sink.add(name, unit, value, dimensions);
    } catch (error) {
      logger.warn('metric dropped', { metric: name, error });
    }
  };
  const lostAttempts = (reason: string, n = 1) => {
    if (n <= 0) return;
    add(METRIC.lostAttempts, 'Count', n);
    add(METRIC.lostAttempts, 'Count', n, { reason });
  };
  return {
    placement(ms) {
      add(METRIC.placements, 'Count', 1);
      add(METRIC.placementLatency, 'Milliseconds', Math.round(ms));
    },
    placementFailure: () => add(METRIC.placementFailures, 'Count', 1),
    queuedJobs: (n) => add(METRIC.queuedJobs, 'Count', n),
    lostAttempts,
    ifLost(job, attemptId) {
      const a: Attempt | undefined = job.attempts.find((x) => x.id === attemptId);
      if (a?.status === 'LOST') lostAttempts(a.reason ?? 'UNKNOWN');
    },
    started(job, attemptId) {
      const a = job.attempts.find((x) => x.id === attemptId);
      if (a?.n === 0 && a.startedAt !== undefined) add(METRIC.submitToRunning, 'Milliseconds', a.startedAt - job.createdAt);
    },
    checkerRun(r) {
      add(METRIC.probes, 'Count', r.probed);
      add(METRIC.probesFailed, 'Count', r.failed);
    },
    quarantine: () => add(METRIC.nodesQuarantined, 'Count', 1),
    ledgerAudit: (differences) => add(METRIC.ledgerAuditDifference, 'Count', differences),
    flush() {
      try {
        sink.flush();
      } catch (error) {
        logger.warn('metrics flush failed', { error });
      }
    },
  };
}
