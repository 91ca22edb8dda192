// The checker's settings and their AWS defaults: pure values, so the settings table (functions/settings)
// and the CDK app read them without loading the Secrets Manager client (usecases/checker-settings.ts).
import type { AddressClass } from './address';

export interface CheckerSettings {
  /** per probe, DNS, connect and answer together, ms */
  probeTimeoutMs: number;
  /** probes in flight at once per checker run */
  concurrency: number;
  /** chance per probed node and run that a canary job is sent (0 disables canaries) */
  canaryRate: number;
  /** the schedule's period, ms: each good probe vouches for this much uptime */
  periodMs: number;
  /** rewards are settled per epoch of this length, ms */
  epochMs: number;
  /** a run stops starting probes after this long, so it ends well inside the function timeout, ms */
  maxRunMs: number;
  /** address classes probes may reach besides public ones: [] in the cloud, ['loopback'] locally */
  allowAddresses: AddressClass[];
  /** the container images canaries name, comma-separated (one at random each time): images consumers use, so a canary's image marks nothing; the process runtime ignores it */
  canaryImage: string;
  /** a canary waits a random part of this before it is placed, so its dispatch does not follow the node's probe (AWS: one period; unset: placed at once) */
  canaryMaxDelayMs?: number;
  /** the open checker network's epoch (assignments, quorum, rewards), ms: docs/checkers.md */
  networkEpochMs: number;
  /** micro-credits the reward pool pays the network's checkers per epoch, shared by correct on-time reports */
  networkRewardPerEpoch: number;
  /** micro-credits a license forfeits per report that disagreed with the verdict or was refused for its signature */
  networkPenaltyPerReport: number;
  /** the signing secret itself (local stack) */
  signingSecret?: string;
  /** or the Secrets Manager secret holding it (AWS) */
  signingSecretArn?: string;
}

export const DEFAULT_CHECKER: CheckerSettings = {
  probeTimeoutMs: 3_000,
  concurrency: 100,
  canaryRate: 0.002,
  periodMs: 60_000,
  epochMs: 3_600_000,
  maxRunMs: 40_000,
  allowAddresses: [],
  canaryImage: 'busybox:1.36,alpine:3.20,ubuntu:24.04,python:3.12-slim',
  networkEpochMs: 600_000,
  networkRewardPerEpoch: 1_000_000,
  networkPenaltyPerReport: 10_000,
};
