// The one table of the settings every function reads: per environment variable its name, the field of
// Settings it fills, how its text reads and writes (./codecs.ts) and its default. settingsFromEnv and
// settingsToEnv (./env.ts) are both driven by it, so what the CDK stack writes, what a function reads and
// what the local stack passes cannot drift. Names and defaults are those deployed stacks already carry:
// change neither without a migration. The newer variables (marked "local stack") let the local stack's
// loopback rules and test paces travel the same way; AWS stacks never set them, so their defaults hold.
import { DEFAULT_ACCOUNT_LIMITS } from '../domain/account-limits';
import type { AddressClass } from '../domain/checker/address';
import { DEFAULT_CHECKER } from '../domain/checker/settings';
import { parseBounds } from '../domain/governance/parameters';
import { DEFAULT_DEADLINES } from '../domain/job/deadlines';
import { DEFAULT_LEDGER } from '../domain/ledger/model';
import { validateDelays } from '../domain/webhook/schedule';
import { DEFAULT_GOVERNANCE } from '../usecases/governance-settings';
import { DEFAULT_SERVICES } from '../usecases/service-settings';
import { DEFAULT_WEBHOOKS } from '../usecases/webhook-settings';
import { baseUrl, flag, json, names, num, numbers, scaled, text, type Codec } from './codecs';
import type { Settings, SettingsPath, ValueAt } from './settings';

export interface EnvSetting {
  /** the environment variable */
  env: string;
  /** the field of Settings it fills */
  path: SettingsPath;
  codec: Codec<any>;
  /** the value when the variable is unset or empty: a constant, or computed from what was read before it; absent: the field stays unset */
  fallback?: (read: Partial<Settings>, env: Record<string, string | undefined>) => unknown;
}

/** One row, its codec and default checked against the field's type. */
function row<P extends SettingsPath>(env: string, path: P, codec: Codec<NonNullable<ValueAt<Settings, P>>>, fallback?: ValueAt<Settings, P> | ((read: Partial<Settings>, env: Record<string, string | undefined>) => ValueAt<Settings, P>)): EnvSetting {
  return { env, path, codec, ...(fallback === undefined ? {} : { fallback: typeof fallback === 'function' ? (fallback as EnvSetting['fallback']) : () => fallback }) };
}

const ADDRESS_CLASSES: readonly [AddressClass, ...AddressClass[]] = ['public', 'loopback', 'private', 'linkLocal', 'unspecified', 'multicast', 'reserved'];
const seconds = (r = { min: 0 }) => scaled(1000, r);
const count = (min = 0) => num({ min, int: true });
const bps = () => num({ min: 0, max: 10_000, int: true });

export const SETTINGS_TABLE: readonly EnvSetting[] = [
  row('GPUPOOL_STAGE', 'stage', text(), 'dev'),
  row('AWS_REGION', 'region', text(), 'us-east-1'),
  row('HEARTBEAT_BUSY_SECONDS', 'heartbeat.busySeconds', num(), 5),
  row('HEARTBEAT_IDLE_SECONDS', 'heartbeat.idleSeconds', num(), 60),
  row('DISPATCH_TIMEOUT_SECONDS', 'deadlines.dispatchTimeoutMs', seconds(), 15_000),
  // local stack and tests: a faster reaper's graces
  row('DEADLINE_TIMEOUT_GRACE_SECONDS', 'deadlines.timeoutGraceMs', seconds(), DEFAULT_DEADLINES.timeoutGraceMs),
  row('DEADLINE_CANCEL_GRACE_SECONDS', 'deadlines.cancelGraceMs', seconds(), DEFAULT_DEADLINES.cancelGraceMs),

  row('NODE_QUEUE_PREFIX', 'queues.prefix', text(), 'gpupool-node-'),
  row('NODE_DLQ_ARN', 'queues.dlqArn', text()),
  row('NODE_QUEUE_VISIBILITY_SECONDS', 'queues.visibilityTimeoutSeconds', count(), 30),
  row('NODE_QUEUE_MAX_RECEIVES', 'queues.maxReceiveCount', count(1), 5),
  row('GPUPOOL_TEST_DUPLICATE_DISPATCH', 'queues.duplicateSends', flag('1', ''), false),
  row('AGENT_SQS_ENDPOINT', 'agentSqsEndpoint', text()),
  row('AGENT_ROLE_ARN', 'agentRoleArn', text()),
  // both or neither: agentUsageKeys is dropped unless both are set (OPTIONAL_GROUPS)
  row('USAGE_AGENT_PLAN_NAME', 'agentUsageKeys.planName', text()),
  row('USAGE_IDENTIFIER_KEY', 'agentUsageKeys.keyBase', text()),
  row('FILES_BUCKET', 'files.bucket', text()),
  row('S3_ENDPOINT', 'files.endpoint', text()),
  row('UPLOADS_EXPIRE_DAYS', 'files.uploadsExpireDays', count(1), 30),
  row('SECRETS_KEY_ID', 'secretsKeyId', text()),
  row('PLACEMENT_QUEUE_URL', 'placementQueueUrl', text()),
  row('MATCH_CANDIDATES_PER_SHARD', 'candidatesPerShard', count(1), 16),
  row('ALLOW_PROCESS_RUNTIME', 'allowProcessRuntime', flag('true', 'false'), false),

  row('CHECKER_PROBE_TIMEOUT_MS', 'checker.probeTimeoutMs', count(1), DEFAULT_CHECKER.probeTimeoutMs),
  row('CHECKER_CONCURRENCY', 'checker.concurrency', count(1), DEFAULT_CHECKER.concurrency),
  row('CHECKER_CANARY_RATE', 'checker.canaryRate', num({ min: 0, max: 1 }), DEFAULT_CHECKER.canaryRate),
  row('CHECKER_PERIOD_SECONDS', 'checker.periodMs', seconds(), DEFAULT_CHECKER.periodMs),
  row('CHECKER_EPOCH_SECONDS', 'checker.epochMs', seconds(), DEFAULT_CHECKER.epochMs),
  row('CHECKER_MAX_RUN_MS', 'checker.maxRunMs', count(1), DEFAULT_CHECKER.maxRunMs),
  // local stack: probes reach agents on loopback; the cloud allows public addresses only
  row('CHECKER_ALLOW_ADDRESSES', 'checker.allowAddresses', names(ADDRESS_CLASSES), DEFAULT_CHECKER.allowAddresses),
  row('CHECKER_CANARY_IMAGE', 'checker.canaryImage', text(), DEFAULT_CHECKER.canaryImage),
  // deployed (a Lambda): one checker period unless set; the local stack and tests place canaries at once
  row('CHECKER_CANARY_MAX_DELAY_SECONDS', 'checker.canaryMaxDelayMs', seconds(), (read, env) => (env.AWS_LAMBDA_FUNCTION_NAME ? read.checker!.periodMs : 0)),
  row('CHECKER_NETWORK_EPOCH_SECONDS', 'checker.networkEpochMs', seconds(), DEFAULT_CHECKER.networkEpochMs),
  row('CHECKER_NETWORK_REWARD_PER_EPOCH', 'checker.networkRewardPerEpoch', count(), DEFAULT_CHECKER.networkRewardPerEpoch),
  row('CHECKER_NETWORK_PENALTY_PER_REPORT', 'checker.networkPenaltyPerReport', count(), DEFAULT_CHECKER.networkPenaltyPerReport),
  row('CHECKER_SIGNING_SECRET_ARN', 'checker.signingSecretArn', text()),

  row('CHECKER_LICENSE_SUPPLY', 'governance.licenseSupply', count(), DEFAULT_GOVERNANCE.licenseSupply),
  row('GOVERNANCE_LICENSE_VOTES', 'governance.licenseVotes', count(), DEFAULT_GOVERNANCE.licenseVotes),
  row('GOVERNANCE_PROPOSAL_MIN_VOTES', 'governance.proposalMinVotes', count(), DEFAULT_GOVERNANCE.proposalMinVotes),
  row('GOVERNANCE_MIN_VOTING_SECONDS', 'governance.minVotingSeconds', num(), DEFAULT_GOVERNANCE.minVotingSeconds),
  row('GOVERNANCE_MAX_VOTING_SECONDS', 'governance.maxVotingSeconds', num(), DEFAULT_GOVERNANCE.maxVotingSeconds),
  row('GOVERNANCE_ENACTMENT_DELAY_SECONDS', 'governance.enactmentDelaySeconds', num(), DEFAULT_GOVERNANCE.enactmentDelaySeconds),
  row('GOVERNANCE_QUORUM_VOTES', 'governance.quorumVotes', count(), DEFAULT_GOVERNANCE.quorumVotes),
  row('GOVERNANCE_THRESHOLD_BPS', 'governance.thresholdBps', bps(), DEFAULT_GOVERNANCE.thresholdBps),
  row('GOVERNANCE_ADMIN_VETO', 'governance.adminVeto', flag('true', 'false'), DEFAULT_GOVERNANCE.adminVeto),
  row('GOVERNANCE_BOUNDS', 'governance.bounds', json(parseBounds), DEFAULT_GOVERNANCE.bounds),
  row('PARAMETERS_CACHE_SECONDS', 'governance.parametersCacheMs', seconds(), DEFAULT_GOVERNANCE.parametersCacheMs),

  row('SERVICES_PERIOD_SECONDS', 'services.periodSeconds', num(), DEFAULT_SERVICES.periodSeconds),
  row('SERVICES_STARTUP_SECONDS', 'services.startupSeconds', num(), DEFAULT_SERVICES.startupSeconds),
  row('SERVICES_UNREADY_SECONDS', 'services.unreadySeconds', num(), DEFAULT_SERVICES.unreadySeconds),
  row('SERVICES_SCALE_DOWN_COOLDOWN_SECONDS', 'services.scaleDownCooldownSeconds', num(), DEFAULT_SERVICES.scaleDownCooldownSeconds),
  row('SERVICES_TICK_SECONDS', 'services.tickSeconds', num(), DEFAULT_SERVICES.tickSeconds),
  row('SERVICES_BASE_URL', 'services.baseUrl', baseUrl(), DEFAULT_SERVICES.baseUrl),

  // local stack: a receiver on this machine over plain http; the cloud allows https to public addresses only
  row('WEBHOOK_ALLOW_ADDRESSES', 'webhooks.allowAddresses', names(ADDRESS_CLASSES), DEFAULT_WEBHOOKS.allowAddresses),
  row('WEBHOOK_HTTP_ALLOWED_FOR', 'webhooks.httpAllowedFor', names(ADDRESS_CLASSES), DEFAULT_WEBHOOKS.httpAllowedFor),
  row('WEBHOOK_RETRY_DELAYS_SECONDS', 'webhooks.retryDelaysSeconds', numbers(validateDelays), DEFAULT_WEBHOOKS.retryDelaysSeconds),
  row('WEBHOOK_TIMEOUT_MS', 'webhooks.timeoutMs', count(1), DEFAULT_WEBHOOKS.timeoutMs),
  row('WEBHOOK_SECRET_GRACE_SECONDS', 'webhooks.secretGraceMs', seconds(), DEFAULT_WEBHOOKS.secretGraceMs),
  row('WEBHOOK_LEASE_SECONDS', 'webhooks.leaseMs', seconds(), DEFAULT_WEBHOOKS.leaseMs),
  row('WEBHOOK_RETRY_QUEUE_URL', 'webhooks.retryQueueUrl', text()),

  row('LEDGER_FEE_BPS', 'ledger.feeBps', bps(), DEFAULT_LEDGER.feeBps),
  row('LEDGER_REWARD_SHARE_BPS', 'ledger.rewardShareBps', bps(), DEFAULT_LEDGER.rewardShareBps),
  // micro-credits (the CDK stack converts cdk.json's whole credits)
  row('LEDGER_MIN_STAKE_PER_GPU', 'ledger.minStakePerGpu', count(), DEFAULT_LEDGER.minStakePerGpu),
  row('LEDGER_UNSTAKE_COOLDOWN_SECONDS', 'ledger.unstakeCooldownMs', seconds(), DEFAULT_LEDGER.unstakeCooldownMs),
  // local stack and tests: unset, domain/node/removal.ts's VERDICT_GRACE_MS
  row('LEDGER_VERDICT_GRACE_SECONDS', 'ledger.verdictGraceMs', seconds()),
  row('LEDGER_SLASH_COMPENSATION_BPS', 'ledger.slashCompensationBps', bps(), DEFAULT_LEDGER.slashCompensationBps),
  row('LEDGER_SLASH_BPS', 'ledger.slashBps', bps(), DEFAULT_LEDGER.slashBps),
  row('LEDGER_SLASH_WINDOW_SECONDS', 'ledger.slashWindowMs', seconds(), DEFAULT_LEDGER.slashWindowMs),
  row('LEDGER_SYMBOL', 'ledger.symbol', text(), DEFAULT_LEDGER.symbol),

  row('ACCOUNT_MAX_PRIORITY', 'accountLimits.maxPriority', num({ min: -100, max: 100, int: true }), DEFAULT_ACCOUNT_LIMITS.maxPriority),
  row('ACCOUNT_MAX_QUEUED_JOBS', 'accountLimits.maxQueuedJobs', count(), DEFAULT_ACCOUNT_LIMITS.maxQueuedJobs),
  row('ACCOUNT_MAX_GPUS', 'accountLimits.maxGpus', count(), DEFAULT_ACCOUNT_LIMITS.maxGpus),
  // micro-credits of escrow holds per UTC day; unset: no limit (null)
  row('ACCOUNT_MAX_SPEND_PER_DAY', 'accountLimits.maxSpendPerDay', count(), DEFAULT_ACCOUNT_LIMITS.maxSpendPerDay),
];

/**
 * Groups that exist only when their key fields are set: a bucket makes `files`, a usage plan and a key base
 * make `agentUsageKeys`. Without them the group is absent (the feature is off), whatever else is set.
 */
export const OPTIONAL_GROUPS: Readonly<Partial<Record<keyof Settings, readonly string[]>>> = {
  files: ['bucket'],
  agentUsageKeys: ['planName', 'keyBase'],
};

/** Fields that never travel by environment: the local stack's probe-signing secret is held in memory (AWS: CHECKER_SIGNING_SECRET_ARN). */
export const MEMORY_ONLY: readonly string[] = ['checker.signingSecret'];
