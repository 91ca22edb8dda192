// A burst instance as gpupool records it: one launch decision, from the record written before
// RunInstances (its id is the EC2 ClientToken) to the terminated instance. Times in epoch ms, cost in USD.
export const BURST_STATES = ['launching', 'booting', 'running', 'draining', 'terminating', 'terminated', 'failed'] as const;
export type BurstState = (typeof BURST_STATES)[number];
/** states that hold (or may soon hold) an EC2 instance, and so count against the limits */
export const LIVE_BURST_STATES: readonly BurstState[] = ['launching', 'booting', 'running', 'draining', 'terminating'];

export interface BurstInstance {
  /** launch id: the record's key, the RunInstances ClientToken and the node name's suffix */
  id: string;
  instanceType: string;
  gpuModel: string;
  gpus: number;
  market: 'spot' | 'on-demand';
  /** the hourly cost the budget counts for this instance */
  hourlyCostUsd: number;
  state: BurstState;
  stateReason?: string;
  /** why it was launched, for GET /v1/burst */
  reason: string;
  jobIds: string[];
  instanceId?: string;
  nodeId?: string;
  /** the registration token's key id (never the secret) */
  tokenKeyId?: string;
  /** RunInstances calls made for this record (retries reuse the ClientToken) */
  launchTries?: number;
  createdAt: number;
  launchedAt?: number;
  runningAt?: number;
  /** since when the node has had no work; cleared when it runs something */
  idleSince?: number;
  endedAt?: number;
  /** the budget has been charged for this instance up to here (whole hours from launch) */
  committedUntil?: number;
  version: number;
}

export const isLive = (i: Pick<BurstInstance, 'state'>) => LIVE_BURST_STATES.includes(i.state);

/** The node name a burst instance's agent registers under; the link between node and record. */
export const burstNodeName = (launchId: string) => `burst-${launchId}`;
export const launchIdOfNodeName = (name: string) => (name.startsWith('burst-') ? name.slice('burst-'.length) : undefined);

/** What it has cost so far: from launch (or record creation) to its end or now, at its hourly cost. */
export function costSoFarUsd(i: BurstInstance, now: number): number {
  const from = i.launchedAt;
  if (from === undefined) return 0;
  const hours = Math.max(0, (i.endedAt ?? now) - from) / 3_600_000;
  return Math.round(hours * i.hourlyCostUsd * 10_000) / 10_000;
}

/** UTC day of `now`, the budget's period: "2025-05-01". */
export const budgetDay = (now: number) => new Date(now).toISOString().slice(0, 10);
