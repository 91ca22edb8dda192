// The settings table (functions/settings): one schema that both reads a function's environment and writes
// it. Defaults are today's (deployed stacks depend on them), every field survives the trip through the
// environment, and a bad value stops the function at cold start naming its variable instead of a NaN.
import { describe, expect, it } from 'vitest';
import { DEFAULT_BOUNDS } from '../../functions/domain/governance/parameters';
import { settingsFromEnv, SettingsEnvError, settingsToEnv } from '../../functions/settings/env';
import type { Settings } from '../../functions/settings/settings';
import { MEMORY_ONLY, OPTIONAL_GROUPS, SETTINGS_TABLE } from '../../functions/settings/table';

/** What settingsFromEnv({}) gave before the table, written out (not read from the DEFAULT_* constants). */
const TODAYS_DEFAULTS: Settings = {
  stage: 'dev',
  region: 'us-east-1',
  heartbeat: { busySeconds: 5, idleSeconds: 60 },
  deadlines: { dispatchTimeoutMs: 15_000, timeoutGraceMs: 30_000, cancelGraceMs: 30_000 },
  queues: { prefix: 'gpupool-node-', visibilityTimeoutSeconds: 30, maxReceiveCount: 5, duplicateSends: false },
  candidatesPerShard: 16,
  allowProcessRuntime: false,
  checker: {
    probeTimeoutMs: 3_000,
    concurrency: 100,
    canaryRate: 0.002,
    periodMs: 60_000,
    epochMs: 3_600_000,
    maxRunMs: 40_000,
    allowAddresses: [],
    canaryImage: 'busybox:1.36,alpine:3.20,ubuntu:24.04,python:3.12-slim',
    canaryMaxDelayMs: 0,
    networkEpochMs: 600_000,
    networkRewardPerEpoch: 1_000_000,
    networkPenaltyPerReport: 10_000,
  },
  governance: {
    licenseSupply: 100,
    licenseVotes: 1_000,
    proposalMinVotes: 1,
    minVotingSeconds: 86_400,
    maxVotingSeconds: 2_592_000,
    enactmentDelaySeconds: 86_400,
    quorumVotes: 1_000,
    thresholdBps: 5_000,
    adminVeto: false,
    bounds: DEFAULT_BOUNDS,
    parametersCacheMs: 5_000,
  },
  services: { periodSeconds: 3600, startupSeconds: 600, unreadySeconds: 60, scaleDownCooldownSeconds: 300, tickSeconds: 60, baseUrl: '' },
  webhooks: { allowAddresses: [], httpAllowedFor: [], retryDelaysSeconds: [10, 60, 600], timeoutMs: 10_000, secretGraceMs: 86_400_000, leaseMs: 60_000 },
  ledger: { feeBps: 500, rewardShareBps: 5000, minStakePerGpu: 0, unstakeCooldownMs: 604_800_000, slashCompensationBps: 1000, slashBps: 1000, slashWindowMs: 86_400_000, symbol: 'ATH' },
  accountLimits: { maxPriority: 100, maxQueuedJobs: 1000, maxGpus: 64, maxSpendPerDay: null },
};

/** Every field the table carries set away from its default (and signingSecret, which it must not carry). */
const EVERYTHING: Settings = {
  stage: 'qa',
  region: 'eu-west-1',
  heartbeat: { busySeconds: 7, idleSeconds: 70 },
  deadlines: { dispatchTimeoutMs: 4_350, timeoutGraceMs: 2_000, cancelGraceMs: 5_500 },
  queues: { prefix: 'gpupool-qa-node-', dlqArn: 'arn:aws:sqs:eu-west-1:1:dlq', visibilityTimeoutSeconds: 1, maxReceiveCount: 3, duplicateSends: true },
  agentSqsEndpoint: 'http://127.0.0.1:9324',
  agentRoleArn: 'arn:aws:iam::1:role/agent',
  agentUsageKeys: { planName: 'gpupool-qa-agents', keyBase: 'idkey' },
  files: { bucket: 'files-qa', endpoint: 'http://127.0.0.1:4569', uploadsExpireDays: 7 },
  secretsKeyId: 'key-1',
  placementQueueUrl: 'https://sqs/placement',
  candidatesPerShard: 4,
  allowProcessRuntime: true,
  checker: {
    probeTimeoutMs: 1_500,
    concurrency: 8,
    canaryRate: 0.0000001,
    periodMs: 5_000,
    epochMs: 300_000,
    maxRunMs: 20_000,
    allowAddresses: ['loopback', 'private'],
    canaryImage: 'busybox:1.36',
    canaryMaxDelayMs: 2_500,
    networkEpochMs: 15_000,
    networkRewardPerEpoch: 7,
    networkPenaltyPerReport: 0,
    signingSecretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:s',
    signingSecret: 'held in memory',
  },
  governance: {
    licenseSupply: 20,
    licenseVotes: 10,
    proposalMinVotes: 2,
    minVotingSeconds: 5,
    maxVotingSeconds: 60,
    enactmentDelaySeconds: 2,
    quorumVotes: 3,
    thresholdBps: 6_000,
    adminVeto: true,
    bounds: { ...DEFAULT_BOUNDS, feeBps: { min: 10, max: 900 } },
    parametersCacheMs: 1_000,
  },
  services: { periodSeconds: 60, startupSeconds: 60, unreadySeconds: 10, scaleDownCooldownSeconds: 30, tickSeconds: 1, baseUrl: 'http://127.0.0.1:8787' },
  webhooks: { allowAddresses: ['loopback'], httpAllowedFor: ['loopback'], retryDelaysSeconds: [1, 1, 1], timeoutMs: 2_000, secretGraceMs: 0, leaseMs: 5_000, retryQueueUrl: 'http://127.0.0.1:9324/q/retries' },
  ledger: { feeBps: 250, rewardShareBps: 4000, minStakePerGpu: 3_000_000, unstakeCooldownMs: 500, verdictGraceMs: 0, slashCompensationBps: 800, slashBps: 900, slashWindowMs: 60_000, symbol: 'QQ' },
  accountLimits: { maxPriority: -5, maxQueuedJobs: 3, maxGpus: 2, maxSpendPerDay: 99 },
};

const withoutMemoryOnly = (s: Settings): Settings => ({ ...s, checker: { ...s.checker, signingSecret: undefined } });

describe('settingsFromEnv', () => {
  it("defaults to today's values, variable for variable", () => {
    expect(settingsFromEnv({})).toStrictEqual(JSON.parse(JSON.stringify(TODAYS_DEFAULTS)));
  });

  it('waits one checker period before a canary when deployed (a Lambda), unless set', () => {
    expect(settingsFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'f', CHECKER_PERIOD_SECONDS: '30' }).checker.canaryMaxDelayMs).toBe(30_000);
    expect(settingsFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'f', CHECKER_CANARY_MAX_DELAY_SECONDS: '0' }).checker.canaryMaxDelayMs).toBe(0);
  });

  it('treats an empty variable as unset, as before', () => {
    expect(settingsFromEnv({ HEARTBEAT_BUSY_SECONDS: '', AGENT_ROLE_ARN: '', ACCOUNT_MAX_SPEND_PER_DAY: '' })).toStrictEqual(settingsFromEnv({}));
  });

  it('makes files and agentUsageKeys only when their key fields are set', () => {
    expect(settingsFromEnv({ S3_ENDPOINT: 'http://s3', UPLOADS_EXPIRE_DAYS: '3' }).files).toBeUndefined();
    expect(settingsFromEnv({ FILES_BUCKET: 'b' }).files).toEqual({ bucket: 'b', uploadsExpireDays: 30 });
    expect(settingsFromEnv({ USAGE_IDENTIFIER_KEY: 'k' }).agentUsageKeys).toBeUndefined();
    expect(settingsFromEnv({ USAGE_AGENT_PLAN_NAME: 'p' }).agentUsageKeys).toBeUndefined();
    expect(settingsFromEnv({ USAGE_AGENT_PLAN_NAME: 'p', USAGE_IDENTIFIER_KEY: 'k' }).agentUsageKeys).toEqual({ planName: 'p', keyBase: 'k' });
  });

  it.each([
    ['HEARTBEAT_BUSY_SECONDS', 'five', /expected a number/],
    ['HEARTBEAT_IDLE_SECONDS', '60s', /expected a number/],
    ['DISPATCH_TIMEOUT_SECONDS', '-1', /at least 0/],
    ['NODE_QUEUE_MAX_RECEIVES', '1.5', /whole number/],
    ['MATCH_CANDIDATES_PER_SHARD', '0', /at least 1/],
    ['ALLOW_PROCESS_RUNTIME', 'yes', /true or false/],
    ['GPUPOOL_TEST_DUPLICATE_DISPATCH', 'true', /expected 1/],
    ['CHECKER_CANARY_RATE', '2', /at most 1/],
    ['CHECKER_ALLOW_ADDRESSES', 'loopback,everywhere', /everywhere|expected one of/i],
    ['WEBHOOK_RETRY_DELAYS_SECONDS', '10,1000', /900/],
    ['WEBHOOK_RETRY_DELAYS_SECONDS', '10,,x', /numbers separated by commas/],
    ['GOVERNANCE_BOUNDS', '{"feeBps":{"min":9,"max":1}}', /min <= max/],
    ['GOVERNANCE_BOUNDS', '{', /JSON|position|Expected/i],
    ['LEDGER_FEE_BPS', '10001', /at most 10000/],
    ['ACCOUNT_MAX_PRIORITY', '-101', /at least -100/],
    ['LEDGER_MIN_STAKE_PER_GPU', 'NaN', /expected a number/],
    ['CHECKER_NETWORK_EPOCH_SECONDS', 'Infinity', /expected a number/],
  ])('refuses %s=%j at cold start, naming the variable', (name, value, why) => {
    const read = () => settingsFromEnv({ [name]: value });
    expect(read).toThrow(SettingsEnvError);
    expect(read).toThrow(new RegExp(`${name}=${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(read).toThrow(why);
  });

  it('names every bad variable in one error, so a broken environment is fixed in one round', () => {
    try {
      settingsFromEnv({ HEARTBEAT_BUSY_SECONDS: 'x', LEDGER_FEE_BPS: '-3', CHECKER_CONCURRENCY: '' });
      expect.unreachable();
    } catch (e) {
      expect((e as SettingsEnvError).problems.map((p) => p.split('=')[0])).toEqual(['HEARTBEAT_BUSY_SECONDS', 'LEDGER_FEE_BPS']);
    }
  });
});

describe('settingsToEnv', () => {
  it('carries every field of the table through the environment and back unchanged (signingSecret stays in memory)', () => {
    const env = settingsToEnv(EVERYTHING);
    // EVERYTHING sets every row: a row this test forgot would be a field no round trip covers
    expect(Object.keys(env).sort()).toEqual(SETTINGS_TABLE.map((r) => r.env).sort());
    expect(settingsFromEnv(env)).toStrictEqual(JSON.parse(JSON.stringify(withoutMemoryOnly(EVERYTHING))));
    expect(Object.values(env).join('\n')).not.toContain('held in memory');
  });

  it("round-trips today's defaults too", () => {
    expect(settingsFromEnv(settingsToEnv(TODAYS_DEFAULTS))).toStrictEqual(settingsFromEnv({}));
  });

  it('writes only what it is given, and no variable for empty text or a switch that is off by absence', () => {
    expect(settingsToEnv({})).toEqual({});
    expect(settingsToEnv({ heartbeat: { busySeconds: 5 } })).toEqual({ HEARTBEAT_BUSY_SECONDS: '5' });
    expect(settingsToEnv({ services: { baseUrl: '' }, queues: { duplicateSends: false }, accountLimits: { maxSpendPerDay: null } })).toEqual({});
    // the deployed stacks' spelling: ALLOW_PROCESS_RUNTIME=false is written, not left out
    expect(settingsToEnv({ allowProcessRuntime: false })).toEqual({ ALLOW_PROCESS_RUNTIME: 'false' });
    expect(settingsToEnv({ ledger: { unstakeCooldownMs: 604_800_000 }, deadlines: { dispatchTimeoutMs: 15_000 } })).toEqual({ LEDGER_UNSTAKE_COOLDOWN_SECONDS: '604800', DISPATCH_TIMEOUT_SECONDS: '15' });
  });
});

describe('the table', () => {
  it('has one row per variable and per field', () => {
    const envs = SETTINGS_TABLE.map((r) => r.env);
    const paths = SETTINGS_TABLE.map((r) => r.path);
    expect(new Set(envs).size).toBe(envs.length);
    expect(new Set(paths).size).toBe(paths.length);
    for (const [group, keys] of Object.entries(OPTIONAL_GROUPS)) for (const k of keys!) expect(paths).toContain(`${group}.${k}`);
    for (const p of MEMORY_ONLY) expect(paths).not.toContain(p);
  });
});
