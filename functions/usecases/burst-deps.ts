// What the burst use cases work with, apart from the common Deps: the burst table, the EC2 port and the
// deployment facts (API URL, instance profile, subnets). Lambda builds it from the environment; the local
// stack injects its own (fake EC2, DynamoDB Local) with setBurstDeps.
import { parseBurstSettings, type BurstSettings } from '../domain/burst/settings';
import { BurstStore } from '../store/burst-store';
import { makeDocClient } from '../store/clients';
import { AwsEc2Fleet, type Ec2Port } from '../store/ec2-fleet';
import { tableNamesFromEnv } from '../store/tables';
import { deps, type Deps } from './deps';

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

let cached: BurstDeps | undefined;
let cachedStore: BurstStore | undefined;

/** The burst table alone: the API's GET /v1/burst needs nothing else. */
export function burstStore(): BurstStore {
  cachedStore ??= cached?.store ?? new BurstStore(makeDocClient(), tableNamesFromEnv().burst);
  return cachedStore;
}

/** The process-wide burst deps of the burst function, from its environment. */
export function burstDeps(): BurstDeps {
  cached ??= { d: deps(), store: burstStore(), ec2: new AwsEc2Fleet(), run: burstRuntimeFromEnv() };
  return cached;
}

/** The local stack's burst table, for GET /v1/burst even when burst itself is off. */
export function setBurstStore(store: BurstStore | undefined) {
  cachedStore = store;
}

/** Lets the local stack and tests inject theirs (undefined resets). */
export function setBurstDeps(b: BurstDeps | undefined) {
  cached = b;
  cachedStore = b?.store;
}
