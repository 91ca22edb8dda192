// The names the dashboard, the alarms and the functions share. Constants only: the CDK app imports this
// file, and synth must not load a runtime module (Powertools, the AWS SDK) to read a constant.

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
