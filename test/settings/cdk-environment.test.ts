// The CDK stack writes every function's settings through the settings table (lib/stage-settings.ts →
// settingsToEnv), and the synthesized templates carry the same variables and values as the hand-written
// environment did before (measured on the templates of 27133d5, for cdk.json's context and for one with
// every stage setting changed). A variable renamed, a unit lost (credits → micro-credits, hours → s) or a
// default suddenly written into every function fails here. The key sets below are the template's settings
// variables; when a construct is meant to give a function a new one, add it here with the reason.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { SETTINGS_TABLE } from '../../functions/settings/table';
import { synthStages } from '../lib/cdk-helpers';

const BURST = { enabled: true, instanceTypes: [{ instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus: 1, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 1.006 }], rateMinutes: 2 };
const ODD = {
  'gpupool:stage': 'qa',
  'gpupool:heartbeatBusySeconds': 7,
  'gpupool:heartbeatIdleSeconds': 70,
  'gpupool:dispatchTimeoutSeconds': 20,
  'gpupool:allowProcessRuntime': true,
  'gpupool:feeBps': 250,
  'gpupool:rewardShareBps': 4000,
  'gpupool:minStakePerGpu': 3,
  'gpupool:unstakeCooldownHours': 2,
  'gpupool:slashBps': 900,
  'gpupool:slashCompensationBps': 800,
  'gpupool:creditSymbol': 'QQ',
  'gpupool:checkerNetworkEpochSeconds': 900,
  'gpupool:checkerNetworkRewardPerEpoch': 7,
  'gpupool:checkerNetworkPenaltyPerReport': 0,
  'gpupool:nodeQueuePrefix': 'q-{stage}-n-',
};
const DLQ_ARN = { 'Fn::ImportValue': 'Data:ExportsOutputFnGetAttNodeDlqQueue64420FA3Arn880A2041' };

/** What every function carried before, per context (functionEnvironment's part of the environment). */
const EVERY_FUNCTION = {
  'cdk.json': {
    GPUPOOL_STAGE: 'dev',
    HEARTBEAT_BUSY_SECONDS: '5',
    HEARTBEAT_IDLE_SECONDS: '60',
    DISPATCH_TIMEOUT_SECONDS: '15',
    NODE_QUEUE_PREFIX: 'gpupool-dev-node-',
    NODE_DLQ_ARN: DLQ_ARN,
    ALLOW_PROCESS_RUNTIME: 'false',
    LEDGER_SYMBOL: 'ATH',
    LEDGER_FEE_BPS: '500',
    LEDGER_REWARD_SHARE_BPS: '5000',
    LEDGER_MIN_STAKE_PER_GPU: '100000000',
    LEDGER_UNSTAKE_COOLDOWN_SECONDS: '604800',
    LEDGER_SLASH_BPS: '1000',
    LEDGER_SLASH_COMPENSATION_BPS: '1000',
    CHECKER_NETWORK_EPOCH_SECONDS: '600',
    CHECKER_NETWORK_REWARD_PER_EPOCH: '1000000',
    CHECKER_NETWORK_PENALTY_PER_REPORT: '10000',
    SERVICES_BASE_URL: 'https://svc.example.com',
  },
  odd: {
    GPUPOOL_STAGE: 'qa',
    HEARTBEAT_BUSY_SECONDS: '7',
    HEARTBEAT_IDLE_SECONDS: '70',
    DISPATCH_TIMEOUT_SECONDS: '20',
    NODE_QUEUE_PREFIX: 'q-qa-n-',
    NODE_DLQ_ARN: DLQ_ARN,
    ALLOW_PROCESS_RUNTIME: 'true',
    LEDGER_SYMBOL: 'QQ',
    LEDGER_FEE_BPS: '250',
    LEDGER_REWARD_SHARE_BPS: '4000',
    LEDGER_MIN_STAKE_PER_GPU: '3000000',
    LEDGER_UNSTAKE_COOLDOWN_SECONDS: '7200',
    LEDGER_SLASH_BPS: '900',
    LEDGER_SLASH_COMPENSATION_BPS: '800',
    CHECKER_NETWORK_EPOCH_SECONDS: '900',
    CHECKER_NETWORK_REWARD_PER_EPOCH: '7',
    CHECKER_NETWORK_PENALTY_PER_REPORT: '0',
  },
} as const;

/** The settings variables some function of the template carried before (the constructs add their resources' names). */
const FROM_CONSTRUCTS = ['AGENT_ROLE_ARN', 'CHECKER_PERIOD_SECONDS', 'CHECKER_SIGNING_SECRET_ARN', 'FILES_BUCKET', 'PLACEMENT_QUEUE_URL', 'SECRETS_KEY_ID', 'UPLOADS_EXPIRE_DAYS', 'USAGE_AGENT_PLAN_NAME', 'USAGE_IDENTIFIER_KEY', 'WEBHOOK_RETRY_DELAYS_SECONDS', 'WEBHOOK_RETRY_QUEUE_URL'];

function functionEnvs(extra: Record<string, unknown>, servicesBaseUrl?: string): Record<string, Record<string, unknown>> {
  const { cp } = synthStages({ extra: { ...extra, 'gpupool:burst': BURST } as never, ...(servicesBaseUrl ? { servicesBaseUrl } : {}) });
  const res = Template.fromStack(cp).toJSON().Resources as Record<string, { Type: string; Properties: { Environment?: { Variables?: Record<string, unknown> } } }>;
  return Object.fromEntries(Object.entries(res).filter(([, r]) => r.Type === 'AWS::Lambda::Function').map(([id, r]) => [id, r.Properties.Environment?.Variables ?? {}]));
}

const SETTINGS_VARS = new Set(SETTINGS_TABLE.map((r) => r.env));

describe.each([
  ['cdk.json', {}, 'https://svc.example.com'],
  ['odd', ODD, undefined],
] as const)('the synthesized environment (%s context)', (name, extra, servicesBaseUrl) => {
  const envs = functionEnvs(extra, servicesBaseUrl);
  const expected: Record<string, unknown> = EVERY_FUNCTION[name];

  it('gives every function (burst included) the stage settings it gave before, value for value', () => {
    expect(Object.keys(envs).length).toBeGreaterThanOrEqual(17);
    for (const [id, env] of Object.entries(envs)) {
      const stagePart = Object.fromEntries(Object.keys(env).filter((k) => k in expected || (SETTINGS_VARS.has(k) && !FROM_CONSTRUCTS.includes(k))).map((k) => [k, env[k]]));
      expect(stagePart, id).toEqual(expected);
    }
  });

  it('carries no settings variable it did not carry before (no default written into every function)', () => {
    const present = new Set(Object.values(envs).flatMap((e) => Object.keys(e).filter((k) => SETTINGS_VARS.has(k))));
    expect([...present].sort()).toEqual([...Object.keys(expected), ...FROM_CONSTRUCTS].sort());
  });
});

describe('the CDK code', () => {
  // Settings variables reach a function through settingsToEnv (functionEnvironment, addSettings) or a name
  // taken from the table (envNameOf), never a name typed by hand that the table might not read.
  const HAND_WRITTEN_STILL: Record<string, string[]> = {};

  it('names no settings variable by hand', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const files = ['lib', 'bin'].flatMap((d) => tsFiles(path.join(root, d))).filter((f) => !f.includes(`${path.sep}console${path.sep}`));
    expect(files.length).toBeGreaterThan(20);
    const found: Record<string, string[]> = {};
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const named = SETTINGS_TABLE.map((r) => r.env).filter((n) => new RegExp(`['"\`]${n}['"\`]`).test(text));
      if (named.length) found[path.relative(root, f)] = named;
    }
    for (const [f, names] of Object.entries(found)) expect(HAND_WRITTEN_STILL[f] ?? [], f).toEqual(expect.arrayContaining(names));
  });

  it('reads cdk.json only in bin/ (lib/ and functions/ take a StageConfig or its settings)', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const readers = ['lib', 'functions']
      .flatMap((d) => tsFiles(path.join(root, d)))
      .filter((f) => /['"`][\w./-]*cdk\.json['"`]/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(root, f));
    expect(readers).toEqual([]);
    expect(readFileSync(path.join(root, 'bin/cdk-json.ts'), 'utf8')).toMatch(/['"`]\.\.\/cdk\.json['"`]/);
  });
});

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}
