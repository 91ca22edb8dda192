// `npm start -- --burst-test-mode`: burst in its local test mode for an operator to watch — the real burst
// tick on a timer against the fake EC2 (lib/local/fake-ec2.ts), whose "instances" are agent processes with
// simulated GPUs of the instance type's shape. The settings are cdk.json's `gpupool:burst` when it lists
// instance types, else a small demo catalogue; either way sped up so a session shows launch → join → run →
// idle → terminate within minutes, and nothing reaches AWS.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LedgerSettings } from '../../functions/domain/ledger/model';
import { BURST_ACCOUNT_ID } from '../../functions/usecases/burst-deps';
import type { Deps } from '../../functions/usecases/deps';
import { mint, stake } from '../../functions/usecases/ledger';
import type { LocalBurstOptions } from './burst-local';

/** g5/g6 shapes as in docs/burst.md; prices in micro-credits per GPU-hour, EC2 costs in USD (list prices) */
export const DEMO_CATALOGUE = [
  { instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus: 1, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 1.006, spotCostPerHourUsd: 0.45, computeCapability: '8.6' },
  { instanceType: 'g6.12xlarge', gpuModel: 'L4', gpus: 4, vramGb: 24, pricePerGpuHour: 1_200_000, costPerHourUsd: 4.602, spotCostPerHourUsd: 1.9, computeCapability: '8.9' },
];

/** What makes the test mode watchable: a job waits 10 s before it counts as backlog, an instance idle 2 min is retired. */
const LOCAL_PACE = { waitSeconds: 10, idleMinutes: 2, bootTimeoutMinutes: 5, maxInstances: 2, maxGpus: 8, dailyBudgetUsd: 50 };

export function burstTestModeOptions(dataDir: string, cdkJson = fileURLToPath(new URL('../../cdk.json', import.meta.url))): LocalBurstOptions & { source: string } {
  const context = existsSync(cdkJson) ? ((JSON.parse(readFileSync(cdkJson, 'utf8')) as { context?: Record<string, unknown> }).context ?? {}) : {};
  const configured = context['gpupool:burst'] as { instanceTypes?: unknown[] } | undefined;
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

/**
 * Burst nodes are nodes of the `burst-provider` account, and a node takes work only while its provider's
 * stake covers `minStakePerGpu` per GPU (docs/ledger.md). The test mode mints and stakes that for `maxGpus`
 * so its instances come online; a deployed stage needs the operator to do the same (docs/burst.md).
 */
export async function stakeBurstProvider(deps: Deps, ledger: LedgerSettings, maxGpus: number): Promise<number> {
  const need = maxGpus * ledger.minStakePerGpu;
  if (need === 0) return 0;
  if (!(await deps.accounts.get(BURST_ACCOUNT_ID))) {
    await deps.accounts
      .create({ id: BURST_ACCOUNT_ID, name: 'burst capacity (EC2)', role: 'provider', createdAt: deps.now(), available: 0, held: 0, staked: 0 })
      .catch((e: Error) => (e.name === 'ConditionalCheckFailedException' ? undefined : Promise.reject(e)));
  }
  const a = (await deps.accounts.get(BURST_ACCOUNT_ID))!;
  const short = need - (a.staked ?? 0) - (a.locked ?? 0);
  if (short <= 0) return 0;
  await mint(deps, BURST_ACCOUNT_ID, short, 'burst test mode: stake for the fake instances');
  await stake(deps, { accountId: BURST_ACCOUNT_ID, role: 'provider', keyId: 'burst-test-mode' }, short);
  return short;
}

export const LOCAL_MAX_GPUS = LOCAL_PACE.maxGpus;
