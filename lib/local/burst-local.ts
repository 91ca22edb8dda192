// Burst in the local stack, in its test mode: the real burst tick on a timer, the real burst table in
// DynamoDB Local, and the fake EC2 whose instances are agent processes (docs/burst.md).
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseBurstSettings } from '../../functions/domain/burst/settings';
import { BurstStore } from '../../functions/store/burst-store';
import { burstTick } from '../../functions/usecases/burst';
import { BURST_ACCOUNT_ID, setBurstDeps, setBurstStore, type BurstDeps } from '../../functions/usecases/burst-deps';
import type { Deps } from '../../functions/usecases/deps';
import { FakeEc2 } from './fake-ec2';
import { every } from './timers';

export interface LocalBurstOptions {
  /** the `gpupool:burst` settings (cdk.json's shape); `enabled` is implied */
  settings: Record<string, unknown>;
  /** ms between burst ticks. @default 1000 */
  tickMs?: number;
  /** where the fake instances' agents keep their state */
  stateDir: string;
  /** extra environment for the fake instances' agents (tests: GPUPOOL_DRAIN_SECONDS=0) */
  agentEnv?: Record<string, string>;
}

export interface LocalBurst {
  ec2?: FakeEc2;
  burst?: BurstDeps;
  stop(): Promise<void>;
}

/** Always serves the burst table (GET /v1/burst); with options, runs burst against the fake EC2. */
export function startLocalBurst(p: { deps: Deps; db: DynamoDBDocumentClient; table: string; apiUrl: string; options?: LocalBurstOptions; log: (m: string) => void }): LocalBurst {
  const store = new BurstStore(p.db, p.table);
  setBurstStore(store);
  if (!p.options) return { stop: async () => setBurstStore(undefined) };
  const settings = parseBurstSettings({ ...p.options.settings, enabled: true });
  const ec2 = new FakeEc2({ catalogue: settings.instanceTypes, stateDir: p.options.stateDir, onLine: p.log, agentEnv: p.options.agentEnv });
  const burst: BurstDeps = {
    d: p.deps,
    store,
    ec2,
    run: { settings, stage: 'local', apiUrl: p.apiUrl, instanceProfileArn: 'arn:aws:iam::000000000000:instance-profile/local', subnetIds: [], securityGroupIds: [], burstAccountId: BURST_ACCOUNT_ID },
  };
  setBurstDeps(burst);
  const log = p.log;
  const timer = every(p.options.tickMs ?? 1000, async () => {
    const r = await burstTick(burst);
    if (r.launched || r.drained || r.terminated || r.ended) log(`burst: ${r.launched} launched, ${r.drained} drained, ${r.terminated} terminated, ${r.ended} ended`);
  });
  return {
    ec2,
    burst,
    async stop() {
      await timer.stop();
      await ec2.stopAll();
      setBurstDeps(undefined);
    },
  };
}
