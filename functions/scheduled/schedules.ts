// The table of schedules, beside the table of routes (functions/http/routes.ts): what runs by the clock,
// which entry point runs it and with what input. The CDK stack makes an EventBridge rule of each
// (lib/stacks/control-plane-stack.ts, lib/constructs/checker.ts, lib/constructs/burst.ts) and the local
// stack a timer of each (lib/local/schedule-timers.ts), both calling the same functions/scheduled/*
// handlers. Constants only: the CDK app imports this file.

/** The functions that run on a schedule (lib/stacks/control-plane-stack.ts FunctionName). */
export type ScheduledFunction = 'sweep' | 'reaper' | 'checker' | 'audit' | 'enactment' | 'serviceTick' | 'burst';

export interface Schedule {
  /** the rule's name on AWS and the timer's in the local stack */
  name: 'Sweep' | 'Reaper' | 'Governance' | 'LedgerAudit' | 'Services' | 'Checker' | 'Burst';
  fn: ScheduledFunction;
  /** the handler's module */
  entry: string;
  description: string;
  /** minutes between runs on AWS: a number, or the stage setting (lib/config.ts) that holds it */
  rateMinutes: number | 'sweepRateMinutes' | 'reaperRateMinutes' | 'burst';
  /** each run is one invocation per index shard with {"shard": n} (side by side on AWS, in turn locally) */
  perShard?: true;
  /** deployed only with burst enabled (docs/burst.md) */
  onlyWithBurst?: true;
}

export const SCHEDULES: readonly Schedule[] = [
  { name: 'Sweep', fn: 'sweep', entry: 'functions/scheduled/sweep.ts', description: 'gpupool: place queued jobs', rateMinutes: 'sweepRateMinutes' },
  { name: 'Reaper', fn: 'reaper', entry: 'functions/scheduled/reaper.ts', description: 'gpupool: fail lost attempts, re-queue their jobs', rateMinutes: 'reaperRateMinutes' },
  // a passed proposal waits its delay (a day by default) anyway: a minute more is nothing; the checker
  // network's epochs close here too (their verdicts, scores and rewards are the network's governance)
  { name: 'Governance', fn: 'enactment', entry: 'functions/scheduled/governance.ts', description: 'gpupool: close voting windows, enact passed proposals, close checker network epochs', rateMinutes: 1 },
  // a full scan of entries and accounts: hourly matches the audit alarm's period (docs/ledger.md has its cost)
  { name: 'LedgerAudit', fn: 'audit', entry: 'functions/scheduled/audit.ts', description: 'gpupool: recompute balances from ledger entries', rateMinutes: 60 },
  // changes through the API and readiness reports reconcile inline; the tick catches the rest (docs/services.md)
  { name: 'Services', fn: 'serviceTick', entry: 'functions/scheduled/services.ts', description: 'gpupool: reconcile services (replace, scale, roll, delete replicas)', rateMinutes: 1 },
  { name: 'Checker', fn: 'checker', entry: 'functions/scheduled/checker.ts', description: 'gpupool: probe the nodes of one shard, judge canaries', rateMinutes: 1, perShard: true },
  { name: 'Burst', fn: 'burst', entry: 'functions/scheduled/burst.ts', description: 'gpupool burst: launch GPU instances for the backlog, retire idle ones', rateMinutes: 'burst', onlyWithBurst: true },
];

export const scheduleNamed = (name: Schedule['name']): Schedule => SCHEDULES.find((s) => s.name === name)!;
