// Burst in the local stack, in its test mode: the real burst handler on the stack's clock
// (schedule-timers.ts), the real burst table in DynamoDB Local, and the fake EC2 whose instances are agent
// processes (docs/burst.md). This is the burst function's composition root for the local stack.
import { parseBurstSettings } from '../../functions/domain/burst/settings';
import { BURST_ACCOUNT_ID, type BurstDeps } from '../../functions/usecases/burst-deps';
import type { Deps } from '../../functions/usecases/deps';
import { FakeEc2 } from './fake-ec2';

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

/** With options, burst's dependencies against the fake EC2 (the burst table itself is every function's: Deps.burst). */
export function localBurst(p: { deps: Deps; apiUrl: string; options?: LocalBurstOptions; log: (m: string) => void }): LocalBurst {
  if (!p.options) return { stop: async () => undefined };
  const settings = parseBurstSettings({ ...p.options.settings, enabled: true });
  const ec2 = new FakeEc2({ catalogue: settings.instanceTypes, stateDir: p.options.stateDir, onLine: p.log, agentEnv: p.options.agentEnv });
  const burst: BurstDeps = {
    d: p.deps,
    store: p.deps.burst,
    ec2,
    run: { settings, stage: 'local', apiUrl: p.apiUrl, instanceProfileArn: 'arn:aws:iam::000000000000:instance-profile/local', subnetIds: [], securityGroupIds: [], burstAccountId: BURST_ACCOUNT_ID },
  };
  return { ec2, burst, stop: () => ec2.stopAll() };
}
