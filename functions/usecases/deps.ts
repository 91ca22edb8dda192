// The ports a use case works with. Each function's composition root builds them once (on Lambda
// functions/wiring/lambda-root.ts from the function's environment; in the local stack lib/local/local-stack.ts
// from the local engines), and hands them to its handlers; tests build their own with `buildDeps`.
import { monotonicFactory } from 'ulid';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { AccountsStore } from '../store/accounts-store';
import { LedgerStore } from '../store/ledger-store';
import { agentCredentialsFor, type AgentCredentialsPort } from '../store/agent-credentials';
import { IdempotencyStore } from '../store/idempotency-store';
import { JobsStore } from '../store/jobs-store';
import { KeysStore } from '../store/keys-store';
import { LogsStore } from '../store/logs-store';
import { NodesStore } from '../store/nodes-store';
import { Queues } from '../store/queues';
import type { TableNames } from '../store/tables';
import { ScoresStore, type ScoresPort } from '../store/scores-store';
import { VerificationStore } from '../store/verification-store';
import { WebhookRetryQueue, type RetryQueuePort } from '../store/webhook-retries';
import { WebhooksStore } from '../store/webhooks-store';
import { InProcessPlacementWake, SqsPlacementWake, type PlacementWake } from './placement-wake';
import { makeS3Client, S3FileStorage, type FileStoragePort } from '../store/files-store';
import { FileItemsStore } from '../store/file-items-store';
import { SecretsStore } from '../store/secrets-store';
import type { SecretCipher } from '../store/secret-cipher';
import { GovernanceStore } from '../store/governance-store';
import { CachedParameters, type ParametersPort } from './parameters-port';
import { ServicesStore } from '../store/services-store';
import type { AgentUsageKeysPort } from '../domain/agent-usage-keys-port';
import { BurstStore } from '../store/burst-store';
import { metricsOn, noopSink, type MetricsPort } from '../observability/metrics';

// the settings every function reads from its environment: one table, read and written by functions/settings
import type { Settings } from '../settings/settings';
import { settingsFromEnv } from '../settings/env';
export type { Settings };
export { settingsFromEnv };

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
  /** each node's own usage key (AWS); present where settings.agentUsageKeys is set and the function's root gave the adapter (the nodes function) */
  agentUsageKeys?: AgentUsageKeysPort;
  /** checker licenses, proposals, votes and the parameters enacted (docs/governance.md) */
  governance: GovernanceStore;
  /** long-running services; their replicas are jobs (docs/services.md) */
  services: ServicesStore;
  /** the parameters in force, cached briefly (functions/usecases/parameters.ts); absent: the deployment's settings */
  parameters?: ParametersPort;
  /** burst instances (GET /v1/burst reads them; the burst function's own root adds EC2: usecases/burst-deps.ts) */
  burst: BurstStore;
  /** what the dashboard and alarms read (functions/observability/metrics.ts) */
  metrics: MetricsPort;
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

export function buildDeps(p: {
  db: DynamoDBDocumentClient;
  sqs: SQSClient;
  tables: TableNames;
  settings: Settings;
  files?: FileStoragePort;
  secretCipher?: SecretCipher;
  agentUsageKeys?: AgentUsageKeysPort;
  /** where the use cases' metrics go; absent: nowhere (tests, hand-built deps) */
  metrics?: MetricsPort;
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
    secretCipher: p.secretCipher,
    placementWake: p.settings.placementQueueUrl ? new SqsPlacementWake(p.sqs, p.settings.placementQueueUrl) : new InProcessPlacementWake(),
    agentCredentials: agentCredentialsFor(p.settings.agentRoleArn, p.settings.region),
    agentUsageKeys: p.agentUsageKeys,
    governance,
    services: new ServicesStore(p.db, p.tables.services, p.tables.accounts),
    parameters: new CachedParameters(governance, p.settings.governance?.parametersCacheMs ?? 5_000),
    burst: new BurstStore(p.db, p.tables.burst),
    metrics: p.metrics ?? metricsOn(noopSink),
    settings: p.settings,
    now: Date.now,
    newId,
    random: Math.random,
  };
}
