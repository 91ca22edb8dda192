// StageConfig: every deploy-time setting of one gpupool stage, typed, defaulted and validated.
// Only bin/app.ts reads CDK context; it hands the raw values here. Constructs receive the parsed
// config and never look at context or process.env themselves. docs/deploy.md documents each key.

export interface UsagePlanTier {
  /** steady-state requests per second per usage identifier */
  readonly rateLimit: number;
  /** bucket size in requests */
  readonly burstLimit: number;
  /** requests per day per usage identifier */
  readonly quotaPerDay: number;
}

/**
 * The agent tier: node keys only, metered per node (AWS: per bucket of nodes). No daily quota on purpose:
 * a quota one flooding node could spend would shut every node of its bucket out until the next UTC day,
 * while throttling ends when the flood does.
 */
export type AgentUsagePlanTier = Omit<UsagePlanTier, 'quotaPerDay'>;

export interface LedgerConfig {
  /** the credits' symbol. @default 'ATH' */
  readonly symbol: string;
  /** protocol fee on each charge, basis points. @default 500 (5%) */
  readonly feeBps: number;
  /** share of each fee that feeds the checkers' reward pool, basis points of the fee. @default 5000 */
  readonly rewardShareBps: number;
  /** stake per GPU a node's provider must lock before the node takes work, whole credits. @default 100 */
  readonly minStakePerGpu: number;
  /** how long unstaked credits wait before they are available, hours. @default 168 */
  readonly unstakeCooldownHours: number;
  /** share of a node's locked stake a proof of dishonesty slashes, basis points. @default 1000 */
  readonly slashBps: number;
  /** what harmed consumers get on top of a refund, basis points of what they paid. @default 1000 */
  readonly slashCompensationBps: number;
}

/** The open checker network's pace and pay (docs/checkers.md, The checker network). */
export interface CheckerNetworkConfig {
  /** length of an epoch (assignments, quorum, scoring, rewards), seconds. @default 600 */
  readonly epochSeconds: number;
  /** micro-credits the reward pool pays the network's checkers per epoch, shared by agreeing on-time reports. @default 1000000 (1 credit) */
  readonly rewardPerEpoch: number;
  /** micro-credits a license forfeits per disagreeing report or refused signature. @default 10000 (0.01 credit) */
  readonly penaltyPerReport: number;
}

export interface StageConfig {
  /** stage name: stack names, the API stage and default resource prefixes. @default 'dev' */
  readonly stage: string;
  /** agent heartbeat period while it runs work, seconds. @default 10 */
  readonly heartbeatBusySeconds: number;
  /** agent heartbeat period while idle, seconds. @default 60 */
  readonly heartbeatIdleSeconds: number;
  /** how long a dispatched attempt may wait for the agent's start before it is re-placed, seconds. @default 15 */
  readonly dispatchTimeoutSeconds: number;
  /** sweep schedule (re-match queued jobs), minutes. @default 1 */
  readonly sweepRateMinutes: number;
  /** reaper schedule (lost heartbeats, missed deadlines), minutes. @default 1 */
  readonly reaperRateMinutes: number;
  /** the default usage plan tier. @default 50 rps, burst 100, 1,000,000 per day */
  readonly usagePlan: UsagePlanTier;
  /** usage keys the tier is spread over (accounts hash into one): per-bucket throttling without a key per tenant. @default 16 */
  readonly usageKeyBuckets: number;
  /** the agent tier, for node keys only, per agent usage key. @default 200 rps, burst 400, no quota */
  readonly agentUsagePlan: AgentUsagePlanTier;
  /** usage keys of the agent tier (nodes hash into one by node id). @default 64 */
  readonly agentUsageKeyBuckets: number;
  /** a usage key of its own for each node its provider registers (made by the nodes function); the shared keys stay for the rest. @default true */
  readonly agentUsageKeyPerNode: boolean;
  /** authorizer result cache; also the upper bound on key-revocation latency, seconds (0..60). @default 60 */
  readonly authorizerCacheTtlSeconds: number;
  /** retention of function and access log groups, days (a value CloudWatch Logs accepts). @default 30 */
  readonly logRetentionDays: number;
  /** days after which jobs' outputs and checkpoints expire from the files bucket (docs/data.md). @default 30 */
  readonly outputsExpireDays: number;
  /** days after which consumers' uploaded files expire from the files bucket. @default 30 */
  readonly uploadsExpireDays: number;
  /** name prefix of the per-node SQS queues the functions create at runtime; `{stage}` is substituted. @default 'gpupool-{stage}-node-' */
  readonly nodeQueuePrefix: string;
  /** memory of every function, MB: more memory is more CPU, which shortens cold starts. @default 512 */
  readonly functionMemoryMb: number;
  /** the ledger: fees, stake, unstaking and slashing (docs/ledger.md) */
  readonly ledger: LedgerConfig;
  /** the open checker network's epochs and rewards */
  readonly checkerNetwork: CheckerNetworkConfig;
  /** where the alarm topic sends e-mail; unset: the topic has no subscription. @default none */
  readonly alarmEmail?: string;
  /**
   * place consumer work on nodes whose agent runs jobs as plain processes (GPUPOOL_RUNTIME=process): such
   * jobs share the host and can read each other's environment and the agent's key, so a pool of strangers
   * keeps it off; a private pool of one owner may turn it on. @default false
   */
  readonly allowProcessRuntime: boolean;
}

/** The context keys bin/app.ts reads (cdk.json or `-c key=value`), one per StageConfig field. */
export const CONTEXT_KEYS = {
  stage: 'gpupool:stage',
  heartbeatBusySeconds: 'gpupool:heartbeatBusySeconds',
  heartbeatIdleSeconds: 'gpupool:heartbeatIdleSeconds',
  dispatchTimeoutSeconds: 'gpupool:dispatchTimeoutSeconds',
  sweepRateMinutes: 'gpupool:sweepRateMinutes',
  reaperRateMinutes: 'gpupool:reaperRateMinutes',
  usagePlanRateLimit: 'gpupool:usagePlanRateLimit',
  usagePlanBurstLimit: 'gpupool:usagePlanBurstLimit',
  usagePlanQuotaPerDay: 'gpupool:usagePlanQuotaPerDay',
  usageKeyBuckets: 'gpupool:usageKeyBuckets',
  agentUsagePlanRateLimit: 'gpupool:agentUsagePlanRateLimit',
  agentUsagePlanBurstLimit: 'gpupool:agentUsagePlanBurstLimit',
  agentUsageKeyBuckets: 'gpupool:agentUsageKeyBuckets',
  agentUsageKeyPerNode: 'gpupool:agentUsageKeyPerNode',
  authorizerCacheTtlSeconds: 'gpupool:authorizerCacheTtlSeconds',
  logRetentionDays: 'gpupool:logRetentionDays',
  outputsExpireDays: 'gpupool:outputsExpireDays',
  uploadsExpireDays: 'gpupool:uploadsExpireDays',
  nodeQueuePrefix: 'gpupool:nodeQueuePrefix',
  functionMemoryMb: 'gpupool:functionMemoryMb',
  alarmEmail: 'gpupool:alarmEmail',
  allowProcessRuntime: 'gpupool:allowProcessRuntime',
  creditSymbol: 'gpupool:creditSymbol',
  feeBps: 'gpupool:feeBps',
  rewardShareBps: 'gpupool:rewardShareBps',
  minStakePerGpu: 'gpupool:minStakePerGpu',
  unstakeCooldownHours: 'gpupool:unstakeCooldownHours',
  slashBps: 'gpupool:slashBps',
  slashCompensationBps: 'gpupool:slashCompensationBps',
  checkerNetworkEpochSeconds: 'gpupool:checkerNetworkEpochSeconds',
  checkerNetworkRewardPerEpoch: 'gpupool:checkerNetworkRewardPerEpoch',
  checkerNetworkPenaltyPerReport: 'gpupool:checkerNetworkPenaltyPerReport',
} as const;
export type ContextKey = (typeof CONTEXT_KEYS)[keyof typeof CONTEXT_KEYS];

export const DEFAULTS = {
  stage: 'dev',
  heartbeatBusySeconds: 5,
  heartbeatIdleSeconds: 60,
  dispatchTimeoutSeconds: 15,
  sweepRateMinutes: 1,
  reaperRateMinutes: 1,
  usagePlan: { rateLimit: 50, burstLimit: 100, quotaPerDay: 1_000_000 },
  usageKeyBuckets: 16,
  // per bucket of nodes (1/64 of them): heartbeats, start, finish and log batches with wide headroom (docs/api.md)
  agentUsagePlan: { rateLimit: 200, burstLimit: 400 },
  agentUsageKeyBuckets: 64,
  agentUsageKeyPerNode: true,
  authorizerCacheTtlSeconds: 60,
  logRetentionDays: 30,
  outputsExpireDays: 30,
  uploadsExpireDays: 30,
  nodeQueuePrefix: 'gpupool-{stage}-node-',
  functionMemoryMb: 512,
  allowProcessRuntime: false,
  ledger: { symbol: 'ATH', feeBps: 500, rewardShareBps: 5000, minStakePerGpu: 100, unstakeCooldownHours: 168, slashBps: 1000, slashCompensationBps: 1000 },
  checkerNetwork: { epochSeconds: 600, rewardPerEpoch: 1_000_000, penaltyPerReport: 10_000 },
} as const satisfies StageConfig;

/** The retention periods CloudWatch Logs accepts, days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** usage keys of both tiers together */
const MAX_USAGE_KEYS = 128;

/** a checker network amount's ceiling, micro-credits: a million credits */
const MAX_MICRO_CREDITS = 1_000_000 * 1_000_000;

/** SQS names are at most 80 characters; node ids (ULIDs, 26) need the rest. */
const MAX_QUEUE_PREFIX = 40;

/** Raw values as CDK context holds them: numbers from cdk.json, strings from `-c key=value`. */
export type RawContext = Partial<Record<ContextKey, unknown>>;

/**
 * Turns raw context into a StageConfig, filling defaults. Throws one error that lists every
 * invalid setting, so a wrong cdk.json is fixed in one round.
 */
export function resolveStageConfig(raw: RawContext = {}): StageConfig {
  const problems: string[] = [];
  const int = (key: ContextKey, fallback: number, min: number, max: number): number => {
    const v = raw[key];
    if (v === undefined || v === null || v === '') return fallback;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return n;
  };
  const bool = (key: ContextKey, fallback: boolean): boolean => {
    const v = raw[key];
    if (v === undefined || v === null || v === '') return fallback;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    problems.push(`${key} must be true or false, got ${JSON.stringify(v)}`);
    return fallback;
  };
  const str = (key: ContextKey, fallback: string): string => {
    const v = raw[key];
    if (v === undefined || v === null || v === '') return fallback;
    if (typeof v !== 'string') {
      problems.push(`${key} must be a string, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v.trim();
  };

  const stage = str(CONTEXT_KEYS.stage, DEFAULTS.stage);
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(stage)) {
    problems.push(`${CONTEXT_KEYS.stage} must be lowercase letters, digits and '-', starting with a letter, at most 20 characters, got ${JSON.stringify(stage)}`);
  }
  const heartbeatBusySeconds = int(CONTEXT_KEYS.heartbeatBusySeconds, DEFAULTS.heartbeatBusySeconds, 1, 300);
  const heartbeatIdleSeconds = int(CONTEXT_KEYS.heartbeatIdleSeconds, DEFAULTS.heartbeatIdleSeconds, 1, 3600);
  if (heartbeatIdleSeconds < heartbeatBusySeconds) {
    problems.push(`${CONTEXT_KEYS.heartbeatIdleSeconds} (${heartbeatIdleSeconds}) must be >= ${CONTEXT_KEYS.heartbeatBusySeconds} (${heartbeatBusySeconds})`);
  }
  const rateLimit = int(CONTEXT_KEYS.usagePlanRateLimit, DEFAULTS.usagePlan.rateLimit, 1, 10_000);
  const burstLimit = int(CONTEXT_KEYS.usagePlanBurstLimit, DEFAULTS.usagePlan.burstLimit, 1, 5_000);
  if (burstLimit < rateLimit) {
    problems.push(`${CONTEXT_KEYS.usagePlanBurstLimit} (${burstLimit}) must be >= ${CONTEXT_KEYS.usagePlanRateLimit} (${rateLimit})`);
  }
  const agentRateLimit = int(CONTEXT_KEYS.agentUsagePlanRateLimit, DEFAULTS.agentUsagePlan.rateLimit, 1, 10_000);
  const agentBurstLimit = int(CONTEXT_KEYS.agentUsagePlanBurstLimit, DEFAULTS.agentUsagePlan.burstLimit, 1, 5_000);
  if (agentBurstLimit < agentRateLimit) {
    problems.push(`${CONTEXT_KEYS.agentUsagePlanBurstLimit} (${agentBurstLimit}) must be >= ${CONTEXT_KEYS.agentUsagePlanRateLimit} (${agentRateLimit})`);
  }
  // API Gateway holds 10,000 keys per account and region: stay far below, whatever the tenants; each
  // key is two CloudFormation resources (key, plan key) of the stack's 500
  const usageKeyBuckets = int(CONTEXT_KEYS.usageKeyBuckets, DEFAULTS.usageKeyBuckets, 1, 100);
  const agentUsageKeyBuckets = int(CONTEXT_KEYS.agentUsageKeyBuckets, DEFAULTS.agentUsageKeyBuckets, 1, 100);
  if (usageKeyBuckets + agentUsageKeyBuckets > MAX_USAGE_KEYS) {
    problems.push(`${CONTEXT_KEYS.usageKeyBuckets} + ${CONTEXT_KEYS.agentUsageKeyBuckets} (${usageKeyBuckets + agentUsageKeyBuckets}) must be <= ${MAX_USAGE_KEYS}: each usage key is two of the stack's 500 resources`);
  }
  const logRetentionDays = int(CONTEXT_KEYS.logRetentionDays, DEFAULTS.logRetentionDays, 1, 3653);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays)) {
    problems.push(`${CONTEXT_KEYS.logRetentionDays} must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${logRetentionDays}`);
  }
  const nodeQueuePrefix = str(CONTEXT_KEYS.nodeQueuePrefix, DEFAULTS.nodeQueuePrefix).replaceAll('{stage}', stage);
  if (!new RegExp(`^[A-Za-z0-9_-]{1,${MAX_QUEUE_PREFIX}}$`).test(nodeQueuePrefix)) {
    problems.push(`${CONTEXT_KEYS.nodeQueuePrefix} must expand to 1..${MAX_QUEUE_PREFIX} of [A-Za-z0-9_-], got ${JSON.stringify(nodeQueuePrefix)}`);
  }

  // deliberately loose (one @, a dot after it): SNS checks the address by asking its owner to confirm
  const alarmEmail = str(CONTEXT_KEYS.alarmEmail, '');
  if (alarmEmail && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) {
    problems.push(`${CONTEXT_KEYS.alarmEmail} must be an e-mail address or empty, got ${JSON.stringify(alarmEmail)}`);
  }

  const config: StageConfig = {
    stage,
    heartbeatBusySeconds,
    heartbeatIdleSeconds,
    dispatchTimeoutSeconds: int(CONTEXT_KEYS.dispatchTimeoutSeconds, DEFAULTS.dispatchTimeoutSeconds, 1, 900),
    sweepRateMinutes: int(CONTEXT_KEYS.sweepRateMinutes, DEFAULTS.sweepRateMinutes, 1, 60),
    reaperRateMinutes: int(CONTEXT_KEYS.reaperRateMinutes, DEFAULTS.reaperRateMinutes, 1, 60),
    usagePlan: {
      rateLimit,
      burstLimit,
      quotaPerDay: int(CONTEXT_KEYS.usagePlanQuotaPerDay, DEFAULTS.usagePlan.quotaPerDay, 1, 1_000_000_000),
    },
    usageKeyBuckets,
    agentUsagePlan: { rateLimit: agentRateLimit, burstLimit: agentBurstLimit },
    agentUsageKeyBuckets,
    agentUsageKeyPerNode: bool(CONTEXT_KEYS.agentUsageKeyPerNode, DEFAULTS.agentUsageKeyPerNode),
    // the design bounds revocation latency by this TTL: never above 60 s
    authorizerCacheTtlSeconds: int(CONTEXT_KEYS.authorizerCacheTtlSeconds, DEFAULTS.authorizerCacheTtlSeconds, 0, 60),
    logRetentionDays,
    outputsExpireDays: int(CONTEXT_KEYS.outputsExpireDays, DEFAULTS.outputsExpireDays, 1, 3650),
    uploadsExpireDays: int(CONTEXT_KEYS.uploadsExpireDays, DEFAULTS.uploadsExpireDays, 1, 3650),
    nodeQueuePrefix,
    functionMemoryMb: int(CONTEXT_KEYS.functionMemoryMb, DEFAULTS.functionMemoryMb, 128, 10_240),
    allowProcessRuntime: bool(CONTEXT_KEYS.allowProcessRuntime, DEFAULTS.allowProcessRuntime),
    ledger: {
      symbol: str(CONTEXT_KEYS.creditSymbol, DEFAULTS.ledger.symbol).slice(0, 8),
      feeBps: int(CONTEXT_KEYS.feeBps, DEFAULTS.ledger.feeBps, 0, 10_000),
      rewardShareBps: int(CONTEXT_KEYS.rewardShareBps, DEFAULTS.ledger.rewardShareBps, 0, 10_000),
      minStakePerGpu: int(CONTEXT_KEYS.minStakePerGpu, DEFAULTS.ledger.minStakePerGpu, 0, 10_000_000),
      unstakeCooldownHours: int(CONTEXT_KEYS.unstakeCooldownHours, DEFAULTS.ledger.unstakeCooldownHours, 0, 24 * 365),
      slashBps: int(CONTEXT_KEYS.slashBps, DEFAULTS.ledger.slashBps, 0, 10_000),
      slashCompensationBps: int(CONTEXT_KEYS.slashCompensationBps, DEFAULTS.ledger.slashCompensationBps, 0, 10_000),
    },
    checkerNetwork: {
      // the epochs are closed by the checker's shard-0 run, once a minute: a shorter epoch would only queue up
      epochSeconds: int(CONTEXT_KEYS.checkerNetworkEpochSeconds, DEFAULTS.checkerNetwork.epochSeconds, 60, 86_400),
      rewardPerEpoch: int(CONTEXT_KEYS.checkerNetworkRewardPerEpoch, DEFAULTS.checkerNetwork.rewardPerEpoch, 0, MAX_MICRO_CREDITS),
      penaltyPerReport: int(CONTEXT_KEYS.checkerNetworkPenaltyPerReport, DEFAULTS.checkerNetwork.penaltyPerReport, 0, MAX_MICRO_CREDITS),
    },
    ...(alarmEmail ? { alarmEmail } : {}),
  };
  if (problems.length > 0) throw new Error(`invalid gpupool settings:\n  - ${problems.join('\n  - ')}`);
  return Object.freeze({ ...config, usagePlan: Object.freeze(config.usagePlan), agentUsagePlan: Object.freeze(config.agentUsagePlan), ledger: Object.freeze(config.ledger), checkerNetwork: Object.freeze(config.checkerNetwork) });
}
