// The local stack's settings, made the way a deployed function gets its own: what the stack wants (the
// stage bin/ read from cdk.json, the local pace, the engines' endpoints, a test's overrides) is written to an
// environment by the settings table (functions/settings settingsToEnv) and read back from it with
// settingsFromEnv, as every Lambda function reads its environment at cold start. So a setting the table
// cannot carry, or a value a function would refuse, shows here too, and nothing is set by a back door.
import type { CheckerSettings } from '../../functions/domain/checker/settings';
import { settingsFromEnv, settingsToEnv } from '../../functions/settings/env';
import type { Settings, SettingsInput } from '../../functions/settings/settings';
import { localServiceSettings } from '../../functions/usecases/service-settings';
import type { WebhookSettings } from '../../functions/usecases/webhook-settings';
import type { StageConfig } from '../config';
import { stageSettings } from '../stage-settings';
import { LOCAL_GOVERNANCE } from './governance-local';

/** Where the local engines answer: what a stage's resources give its functions on AWS. */
export interface LocalEngines {
  region: string;
  nodeDlqArn: string;
  /** the in-process SQS server, handed to agents */
  sqsEndpoint: string;
  webhookQueueUrl: string;
  files: { bucket: string; endpoint: string };
}

/** What the local stack changes from the AWS defaults: one developer's machine, a demo pace. */
export const LOCAL_PACE: SettingsInput = {
  // a small pool on one machine: notice dead nodes in seconds rather than minutes
  heartbeat: { busySeconds: 5, idleSeconds: 15 },
  deadlines: { dispatchTimeoutMs: 10_000 },
  // the demo agents and tests run the process runtime: one developer's machine, no strangers' jobs
  allowProcessRuntime: true,
  // the demo pace of docs/governance.md: 5 s votes, enacted seconds after
  governance: LOCAL_GOVERNANCE.settings,
  // the demo pace of docs/services.md: 60 s billing periods, replicas judged in seconds; the url is set once the gateway listens
  services: localServiceSettings(''),
  checker: {
    // agents of the local stack listen on loopback; the cloud refuses it (SSRF guard)
    allowAddresses: ['loopback'],
    probeTimeoutMs: 2_000,
    concurrency: 32,
    canaryRate: 0,
    periodMs: 5_000,
    epochMs: 5 * 60_000,
    // the checker network's demo pace (DESIGN.md, Contract part 2): an epoch lasts at most 15 s (a stage's is 60 s or more)
    networkEpochMs: 15_000,
  },
  // a receiver on this machine, over plain http; the cloud allows https to public addresses only
  webhooks: { allowAddresses: ['loopback'], httpAllowedFor: ['loopback'] },
};

export interface LocalSettingsInput {
  /** the stage `npm start` stands in for (cdk.json's, read by bin/): its ledger and checker network pay; absent (tests): the functions' defaults */
  stage?: StageConfig;
  engines: LocalEngines;
  /** the checker's period, ms (LocalStackOptions.checkerMs) */
  checkerMs?: number;
  /** a caller's overrides (LocalStackOptions.settings, .checker, .webhooks), applied last */
  settings?: SettingsInput;
  checker?: Partial<CheckerSettings>;
  webhooks?: Partial<WebhookSettings>;
  /** the probe-signing secret: held in memory, never in an environment (AWS: CHECKER_SIGNING_SECRET_ARN) */
  signingSecret: string;
}

/** The settings the local stack's functions run with, and the environment they were read from. */
export function localSettings(p: LocalSettingsInput): { settings: Settings; env: Record<string, string> } {
  const e = p.engines;
  const wanted = merge(
    // what `cdk deploy` would give every function (functionEnvironment), then the local pace over it
    p.stage ? stageSettings(p.stage, { nodeDlqArn: e.nodeDlqArn }) : {},
    LOCAL_PACE,
    {
      region: e.region,
      queues: { prefix: 'gpupool-node-', dlqArn: e.nodeDlqArn },
      agentSqsEndpoint: e.sqsEndpoint,
      files: e.files,
      webhooks: { retryQueueUrl: e.webhookQueueUrl },
      checker: { periodMs: p.checkerMs ?? 5_000 },
    },
    p.settings ?? {},
    { checker: p.checker ?? {}, webhooks: p.webhooks ?? {} },
  );
  const env = settingsToEnv(wanted);
  const settings = settingsFromEnv(env);
  // merged after the environment on purpose: a secret is not put in an environment (table.ts MEMORY_ONLY)
  settings.checker.signingSecret = wanted.checker?.signingSecret ?? p.signingSecret;
  return { settings, env };
}

/** Later parts win field by field; lists and values replace, objects merge. */
function merge(...parts: SettingsInput[]): SettingsInput {
  const out: Record<string, unknown> = {};
  for (const part of parts) mergeInto(out, part as Record<string, unknown>);
  return out as SettingsInput;
}

function mergeInto(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined) continue;
    if (isPlainObject(v)) {
      if (!isPlainObject(into[k])) into[k] = {};
      mergeInto(into[k] as Record<string, unknown>, v);
    } else into[k] = v;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
