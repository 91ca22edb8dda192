// `npm start -- --burst-test-mode`: burst in its local test mode for an operator to watch — the real burst
// tick on a timer against the fake EC2 (lib/local/fake-ec2.ts), whose "instances" are agent processes with
// simulated GPUs of the instance type's shape. The settings are cdk.json's `gpupool:burst` when it lists
// instance types, else a small demo catalogue; either way sped up so a session shows launch → join → run →
// idle → terminate within minutes, and nothing reaches AWS.
import path from 'node:path';
import type { LocalBurstOptions } from './burst-local';

/** g5/g6 shapes as in docs/burst.md; prices in micro-credits per GPU-hour, EC2 costs in USD (list prices) */
export const DEMO_CATALOGUE = [
  { instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus: 1, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 1.006, spotCostPerHourUsd: 0.45, computeCapability: '8.6' },
  { instanceType: 'g6.12xlarge', gpuModel: 'L4', gpus: 4, vramGb: 24, pricePerGpuHour: 1_200_000, costPerHourUsd: 4.602, spotCostPerHourUsd: 1.9, computeCapability: '8.9' },
];

/** What makes the test mode watchable: a job waits 10 s before it counts as backlog, an instance idle 2 min is retired. */
const LOCAL_PACE = { waitSeconds: 10, idleMinutes: 2, bootTimeoutMinutes: 5, maxInstances: 2, maxGpus: 8, dailyBudgetUsd: 50 };

/** `burst`: cdk.json's "gpupool:burst", as bin/ read it (only bin/ reads cdk.json); undefined where it has none. */
export function burstTestModeOptions(dataDir: string, burst: unknown): LocalBurstOptions & { source: string } {
  const configured = burst as { instanceTypes?: unknown[] } | undefined;
  const fromCdk = Array.isArray(configured?.instanceTypes) && configured.instanceTypes.length > 0;
  return {
    // the fake EC2 cannot use subnets, AMIs or the pool's real region: only the shapes and limits matter
    settings: { ...(fromCdk ? configured : { instanceTypes: DEMO_CATALOGUE }), ...LOCAL_PACE, poolRegion: 'aws' },
    tickMs: 2_000,
    stateDir: path.join(dataDir, 'burst'),
    // Ctrl-C should not wait ten minutes for a burst agent's drain
    agentEnv: { GPUPOOL_DRAIN_SECONDS: '5' },
    source: fromCdk ? 'cdk.json gpupool:burst' : 'the demo catalogue (g5.xlarge, g6.12xlarge)',
  };
}
