// What the burst use cases work with, apart from the common Deps: the burst table, the EC2 port and the
// deployment facts (API URL, instance profile, subnets). The burst function's root builds it from its
// environment (functions/wiring/burst-root.ts); the local stack builds its own (fake EC2, DynamoDB Local).
import { parseBurstSettings, type BurstSettings } from '../domain/burst/settings';
import type { BurstStore } from '../store/burst-store';
import type { Ec2Port } from '../store/ec2-fleet';
import type { Deps } from './deps';

/** The operator's own provider account that burst nodes belong to: fixed, so it is found again. */
export const BURST_ACCOUNT_ID = 'burst-provider';

export interface BurstRuntime {
  settings: BurstSettings;
  stage: string;
  /** the API the instances' agents join: written into their user data */
  apiUrl: string;
  instanceProfileArn: string;
  /** resolved: the configured subnets or the stack's own VPC's */
  subnetIds: string[];
  securityGroupIds: string[];
  burstAccountId: string;
}

export interface BurstDeps {
  d: Deps;
  store: BurstStore;
  ec2: Ec2Port;
  run: BurstRuntime;
}

export function burstRuntimeFromEnv(env: NodeJS.ProcessEnv = process.env): BurstRuntime {
  const list = (v: string | undefined) => (v ? v.split(',').filter(Boolean) : []);
  return {
    settings: parseBurstSettings(env.BURST_SETTINGS ? JSON.parse(env.BURST_SETTINGS) : {}),
    stage: env.GPUPOOL_STAGE ?? 'dev',
    apiUrl: (env.BURST_API_URL ?? '').replace(/\/+$/, ''),
    instanceProfileArn: env.BURST_INSTANCE_PROFILE_ARN ?? '',
    subnetIds: list(env.BURST_SUBNET_IDS),
    securityGroupIds: list(env.BURST_SECURITY_GROUP_IDS),
    burstAccountId: BURST_ACCOUNT_ID,
  };
}

/** How the burst handler reaches its dependencies: built on first use (functions/wiring/burst-root.ts on Lambda). */
export type BurstRoot = () => BurstDeps;
