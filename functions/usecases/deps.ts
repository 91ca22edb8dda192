// The ports a use case works with, built once per process. Handlers get them from `deps()`; tests and
// the local stack build their own with `buildDeps`.
import { monotonicFactory } from 'ulid';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_DEADLINES, type DeadlineConfig } from '../domain/job/deadlines';
import { DEFAULT_LEDGER, type LedgerSettings } from '../domain/ledger/model';
import { AccountsStore } from '../store/accounts-store';
import { LedgerStore } from '../store/ledger-store';
import { agentCredentialsFor, type AgentCredentialsPort } from '../store/agent-credentials';
import { makeDocClient, makeSqsClient } from '../store/clients';
import { IdempotencyStore } from '../store/idempotency-store';
import { JobsStore } from '../store/jobs-store';
import { KeysStore } from '../store/keys-store';
import { LogsStore } from '../store/logs-store';
import { NodesStore } from '../store/nodes-store';
import { Queues, type QueuesConfig } from '../store/queues';
import { tableNamesFromEnv, type TableNames } from '../store/tables';
import { ScoresStore, type ScoresPort } from '../store/scores-store';
import { VerificationStore } from '../store/verification-store';
import { WebhookRetryQueue, type RetryQueuePort } from '../store/webhook-retries';
import { WebhooksStore } from '../store/webhooks-store';
import { webhookSettingsFromEnv, type WebhookSettings } from './webhook-settings';
import { checkerSettingsFromEnv, type CheckerSettings } from './checker-settings';
import { InProcessPlacementWake, SqsPlacementWake, type PlacementWake } from './placement-wake';
import { DEFAULT_ACCOUNT_LIMITS, type AccountLimits } from '../domain/account-limits';
import { makeS3Client, S3FileStorage, type FileStoragePort } from '../store/files-store';
import { FileItemsStore } from '../store/file-items-store';
import { SecretsStore } from '../store/secrets-store';
import type { SecretCipher } from '../store/secret-cipher';
import { GovernanceStore } from '../store/governance-store';
import type { GovernanceSettings } from '../domain/governance/proposals';
import { governanceSettingsFromEnv } from './governance-settings';
import { CachedParameters, type ParametersPort } from './parameters-port';
import { ServicesStore } from '../store/services-store';
import { serviceSettingsFromEnv, type ServiceSettings } from './service-settings';
import type { AgentUsageKeysPort } from '../domain/agent-usage-keys-port';

export interface Settings {
  heartbeat: { busySeconds: number; idleSeconds: number };
  deadlines: DeadlineConfig;
  queues: QueuesConfig;
  /** SQS endpoint handed to agents (local stack only; on AWS agents use the regional endpoint) */
  agentSqsEndpoint?: string;
  /** the role agents get queue credentials from (STS AssumeRole); unset in the local stack: no credentials */
  agentRoleArn?: string;
  /** a usage key per node in this API Gateway usage plan (agent-usage-keys.ts); unset: shared agent keys only */
  agentUsageKeys?: { planName: string; keyBase: string };
  region: string;
  /** cheapest candidates read per index partition when placing */
  candidatesPerShard: number;
  /** place work on process-runtime nodes (jobs there can read each other's environment): off on AWS, on in the local stack */
  allowProcessRuntime: boolean;
  /** probes, canaries, rewards: functions/usecases/checker-settings.ts */
  checker: CheckerSettings;
  /** completion webhooks: functions/usecases/webhook-settings.ts */
  webhooks: WebhookSettings;
  /** fees, stake, unstaking and slashing: functions/domain/ledger/model.ts */
  ledger: LedgerSettings;
  /** per-account limits where an admin set none (domain/account-limits.ts); absent: DEFAULT_ACCOUNT_LIMITS */
  accountLimits?: AccountLimits;
  /** licenses, proposals, votes, bounds (functions/usecases/governance-settings.ts); absent: its defaults */
  governance?: GovernanceSettings;
  /** the bucket of files, outputs and checkpoints (FILES_BUCKET; S3_ENDPOINT on the local stack only): docs/data.md */
  files?: { bucket: string; endpoint?: string; /** UPLOADS_EXPIRE_DAYS: the bucket's lifecycle rule for files/ (30) */ uploadsExpireDays?: number };
  /** the queue that wakes the sweep function (PLACEMENT_QUEUE_URL, AWS); absent: placement runs in this process */
  placementQueueUrl?: string;
  /** the KMS key secrets are sealed under (SECRETS_KEY_ID, set on the functions granted its use); absent: the cipher given to buildDeps */
  secretsKeyId?: string;
  /** services: billing period, readiness timeouts, scaling cool-down, tick, base URL (functions/usecases/service-settings.ts); absent: the AWS defaults */
  services?: ServiceSettings;
}

export interface Deps {
  accounts: AccountsStore;
  ledger: LedgerStore;
  keys: KeysStore;
  nodes: NodesStore;
  jobs: JobsStore;
  logs: LogsStore;
  idempotency: IdempotencyStore;
  scores: ScoresPort;
  /** replicated verification's results and verdicts (in the scores table) */
  verifications: VerificationStore;
  /** webhook delivery attempts and account signing secrets */
  webhooks: WebhooksStore;
  /** where failed webhook attempts are queued again; absent without settings.webhooks.retryQueueUrl */
  webhookRetries?: RetryQueuePort;
  queues: Queues;
  /** object storage for files, outputs and checkpoints; absent where the stage has no bucket (those requests are then a 400) */
  files?: FileStoragePort;
  /** each account's uploaded files and the submits that named them (GET/DELETE /v1/files); absent in hand-built test deps */
  fileItems?: FileItemsStore;
  /** each account's secrets, sealed (docs/data.md, Secrets) */
  secrets: SecretsStore;
  /** seals and opens secret values; absent where this function may not use the key (setting or resolving one there is a deployment fault: a 500) */
  secretCipher?: SecretCipher;
  /** freed capacity asks for placement here (placement-wake.ts): the placement queue on AWS, a background sweep in one process */
  placementWake: PlacementWake;
  /** short-lived credentials for a node's own queue; present when settings.agentRoleArn is set */
  agentCredentials?: AgentCredentialsPort;
  /** each node's own usage key (AWS); present where settings.agentUsageKeys is set and the function registered its adapter */
  agentUsageKeys?: AgentUsageKeysPort;
  /** checker licenses, proposals, votes and the parameters enacted (docs/governance.md) */
  governance: GovernanceStore;
  /** long-running services; their replicas are jobs (docs/services.md) */
  services: ServicesStore;
  /** the parameters in force, cached briefly (functions/usecases/parameters.ts); absent: the deployment's settings */
  parameters?: ParametersPort;
  settings: Settings;
  now: () => number;
  newId: () => string;
  random: () => number;
  /**
   * Failure injection for tests (never set in production): called at named points of multi-step
   * operations (e.g. `removal:after:loseAttempts`); throwing there cuts the operation, as a crashed
   * Lambda would, so a test can prove the operation resumes (test/usecases/node-removal-cut.test.ts).
   */
  faults?: (point: string, subject?: string) => void | Promise<void>;
}

const ulid = monotonicFactory();
/** ids: lower-case ULIDs (sortable by creation, URL-safe) */
export const newId = () => ulid().toLowerCase();

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
  return {
    heartbeat: { busySeconds: num('HEARTBEAT_BUSY_SECONDS', 5), idleSeconds: num('HEARTBEAT_IDLE_SECONDS', 60) },
    deadlines: { ...DEFAULT_DEADLINES, dispatchTimeoutMs: num('DISPATCH_TIMEOUT_SECONDS', 15) * 1000 },
    queues: {
      prefix: env.NODE_QUEUE_PREFIX ?? 'gpupool-node-',
      dlqArn: env.NODE_DLQ_ARN,
      visibilityTimeoutSeconds: num('NODE_QUEUE_VISIBILITY_SECONDS', 30),
      maxReceiveCount: num('NODE_QUEUE_MAX_RECEIVES', 5),
      duplicateSends: env.GPUPOOL_TEST_DUPLICATE_DISPATCH === '1',
    },
    agentSqsEndpoint: env.AGENT_SQS_ENDPOINT,
    agentRoleArn: env.AGENT_ROLE_ARN || undefined,
    agentUsageKeys: env.USAGE_AGENT_PLAN_NAME && env.USAGE_IDENTIFIER_KEY ? { planName: env.USAGE_AGENT_PLAN_NAME, keyBase: env.USAGE_IDENTIFIER_KEY } : undefined,
    files: env.FILES_BUCKET ? { bucket: env.FILES_BUCKET, endpoint: env.S3_ENDPOINT || undefined, uploadsExpireDays: num('UPLOADS_EXPIRE_DAYS', 30) } : undefined,
    secretsKeyId: env.SECRETS_KEY_ID || undefined,
    placementQueueUrl: env.PLACEMENT_QUEUE_URL || undefined,
    region: env.AWS_REGION ?? 'us-east-1',
    candidatesPerShard: num('MATCH_CANDIDATES_PER_SHARD', 16),
    allowProcessRuntime: env.ALLOW_PROCESS_RUNTIME === 'true',
    checker: checkerSettingsFromEnv(env),
    governance: governanceSettingsFromEnv(env),
    services: serviceSettingsFromEnv(env),
    webhooks: webhookSettingsFromEnv(env),
    ledger: {
      feeBps: num('LEDGER_FEE_BPS', DEFAULT_LEDGER.feeBps),
      rewardShareBps: num('LEDGER_REWARD_SHARE_BPS', DEFAULT_LEDGER.rewardShareBps),
      minStakePerGpu: num('LEDGER_MIN_STAKE_PER_GPU', DEFAULT_LEDGER.minStakePerGpu),
      unstakeCooldownMs: num('LEDGER_UNSTAKE_COOLDOWN_SECONDS', DEFAULT_LEDGER.unstakeCooldownMs / 1000) * 1000,
      slashCompensationBps: num('LEDGER_SLASH_COMPENSATION_BPS', DEFAULT_LEDGER.slashCompensationBps),
      slashBps: num('LEDGER_SLASH_BPS', DEFAULT_LEDGER.slashBps),
      slashWindowMs: num('LEDGER_SLASH_WINDOW_SECONDS', DEFAULT_LEDGER.slashWindowMs / 1000) * 1000,
      symbol: env.LEDGER_SYMBOL ?? DEFAULT_LEDGER.symbol,
    },
    accountLimits: {
      maxPriority: num('ACCOUNT_MAX_PRIORITY', DEFAULT_ACCOUNT_LIMITS.maxPriority),
      maxQueuedJobs: num('ACCOUNT_MAX_QUEUED_JOBS', DEFAULT_ACCOUNT_LIMITS.maxQueuedJobs),
      maxGpus: num('ACCOUNT_MAX_GPUS', DEFAULT_ACCOUNT_LIMITS.maxGpus),
      // micro-credits of escrow holds per UTC day; unset or empty: no limit
      maxSpendPerDay: env.ACCOUNT_MAX_SPEND_PER_DAY ? Number(env.ACCOUNT_MAX_SPEND_PER_DAY) : DEFAULT_ACCOUNT_LIMITS.maxSpendPerDay,
    },
  };
}

export function buildDeps(p: {
  db: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: TableNames;
  settings: Settings;
  files?: FileStoragePort;
  secretCipher?: SecretCipher;
  agentUsageKeys?: AgentUsageKeysPort;
}): Deps {
  const nodes = new NodesStore(p.db, p.tables.nodes);
  const ledger = new LedgerStore(p.db, p.tables.ledger, p.tables.accounts);
  const governance = new GovernanceStore(p.db, p.tables.governance);
  return {
    accounts: new AccountsStore(p.db, p.tables.accounts),
    ledger,
    keys: new KeysStore(p.db, p.tables.keys),
    nodes,
    jobs: new JobsStore(p.db, p.tables.jobs, nodes, p.settings.deadlines, ledger, p.tables.accounts),
    logs: new LogsStore(p.db, p.tables.logs),
    idempotency: new IdempotencyStore(p.db, p.tables.idempotency),
    scores: new ScoresStore(p.db, p.tables.scores, p.tables.nodes),
    verifications: new VerificationStore(p.db, p.tables.scores),
    webhooks: new WebhooksStore(p.db, p.tables.webhooks),
    webhookRetries: p.settings.webhooks.retryQueueUrl ? new WebhookRetryQueue(p.sqs, p.settings.webhooks.retryQueueUrl) : undefined,
    queues: new Queues(p.sqs, p.settings.queues),
    files: p.files ?? (p.settings.files ? new S3FileStorage(makeS3Client({ ...p.settings.files, region: p.settings.region }), p.settings.files.bucket) : undefined),
    fileItems: new FileItemsStore(p.db, p.tables.files),
    secrets: new SecretsStore(p.db, p.tables.secrets),
    secretCipher: p.secretCipher ?? (p.settings.secretsKeyId ? kmsCipher?.(p.settings.secretsKeyId, p.settings.region) : undefined),
    placementWake: p.settings.placementQueueUrl ? new SqsPlacementWake(p.sqs, p.settings.placementQueueUrl) : new InProcessPlacementWake(),
    agentCredentials: agentCredentialsFor(p.settings.agentRoleArn, p.settings.region),
    agentUsageKeys: p.agentUsageKeys ?? (p.settings.agentUsageKeys ? apiGatewayUsageKeys?.(p.settings.agentUsageKeys, p.settings.region) : undefined),
    governance,
    services: new ServicesStore(p.db, p.tables.services, p.tables.accounts),
    parameters: new CachedParameters(governance, p.settings.governance?.parametersCacheMs ?? 5_000),
    settings: p.settings,
    now: Date.now,
    newId,
    random: Math.random,
  };
}

/**
 * How a function granted the secrets key builds its cipher (functions/store/kms-cipher.ts registers it): only
 * the two functions that may use the key import the KMS client, so the others' bundles stay without it.
 */
let kmsCipher: ((keyId: string, region: string) => SecretCipher) | undefined;
export function useKmsSecretCipher(make: (keyId: string, region: string) => SecretCipher): void {
  kmsCipher = make;
}

/**
 * How the nodes function makes nodes' usage keys (functions/store/api-gateway-usage-keys.ts registers it):
 * only that function imports the API Gateway client, as only the secrets' two functions import KMS.
 */
let apiGatewayUsageKeys: ((plan: { planName: string; keyBase: string }, region: string) => AgentUsageKeysPort) | undefined;
export function useApiGatewayUsageKeys(make: (plan: { planName: string; keyBase: string }, region: string) => AgentUsageKeysPort): void {
  apiGatewayUsageKeys = make;
}

let cached: Deps | undefined;
/** The process-wide deps for Lambda handlers, from the function's environment. */
export function deps(): Deps {
  cached ??= buildDeps({ db: makeDocClient(), sqs: makeSqsClient(), tables: tableNamesFromEnv(), settings: settingsFromEnv() });
  return cached;
}
/** Lets the local stack (one process, many handlers) inject its deps. */
export function setDeps(d: Deps | undefined) {
  cached = d;
}
