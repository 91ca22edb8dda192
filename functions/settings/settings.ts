// What every function reads from its environment, as one typed object (the table that maps each field to
// its variable: ./table.ts). functions/usecases/deps.ts re-exports it for the use cases.
import type { AccountLimits } from '../domain/account-limits';
import type { CheckerSettings } from '../domain/checker/settings';
import type { GovernanceSettings } from '../domain/governance/proposals';
import type { DeadlineConfig } from '../domain/job/deadlines';
import type { LedgerSettings } from '../domain/ledger/model';
import type { QueuesConfig } from '../store/queues';
import type { ServiceSettings } from '../usecases/service-settings';
import type { WebhookSettings } from '../usecases/webhook-settings';

export interface Settings {
  /** the stage's name (GPUPOOL_STAGE): the OpenAPI document's servers, metrics, burst tags */
  stage?: string;
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
  /** probes, canaries, rewards: functions/domain/checker/settings.ts */
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

/** Any part of the settings: what the CDK stack, the local stack or a test sets; settingsToEnv writes it. */
export type SettingsInput = DeepPartial<Settings>;
type DeepPartial<T> = { [K in keyof T]?: NonNullable<T[K]> extends readonly unknown[] ? T[K] : NonNullable<T[K]> extends object ? DeepPartial<NonNullable<T[K]>> : T[K] };

/** A field's dotted path ('heartbeat.busySeconds'); a list or an object read whole (governance bounds) is one field. */
export type SettingsPath = PathsOf<Settings>;
type PathsOf<T> = {
  [K in keyof T & string]: K | (NonNullable<T[K]> extends readonly unknown[] ? never : NonNullable<T[K]> extends object ? `${K}.${PathsOf<NonNullable<T[K]>>}` : never);
}[keyof T & string];

/** The type of the field at a path. */
export type ValueAt<T, P extends string> = P extends `${infer K}.${infer R}` ? (K extends keyof T ? ValueAt<NonNullable<T[K]>, R> : never) : P extends keyof T ? T[P] : never;
