// The local stack's settings go the way a deployed function's do: written to an environment by the
// settings table and read back with settingsFromEnv, from the same stage settings the CDK stack writes
// (lib/stage-settings.ts). So `npm start` prices and pays like the stage it stands in for, a test's override
// is one a function could be deployed with, and an override the table cannot carry (or a function would
// refuse) fails at start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatApiKey } from '../../functions/domain/api-key';
import { settingsFromEnv, SettingsEnvError, settingsToEnv } from '../../functions/settings/env';
import type { Settings } from '../../functions/settings/settings';
import { newKeyId, newSecret } from '../../functions/store/keys-store';
import { CONTEXT_KEYS, resolveStageConfig } from '../../lib/config';
import { localSettings, type LocalEngines } from '../../lib/local/local-settings';
import { startLocalStack, type LocalStack } from '../../lib/local/local-stack';
import { functionEnvironment } from '../../lib/stacks/control-plane-stack';

const ENGINES: LocalEngines = {
  region: 'us-east-1',
  nodeDlqArn: 'arn:aws:sqs:us-east-1:123456789012:gpupool-node-dlq',
  sqsEndpoint: 'http://127.0.0.1:9324',
  webhookQueueUrl: 'http://127.0.0.1:9324/000000000000/gpupool-webhook-retries',
  files: { bucket: 'gpupool-files', endpoint: 'http://127.0.0.1:4569' },
};
const withoutSecret = (s: Settings) => JSON.parse(JSON.stringify({ ...s, checker: { ...s.checker, signingSecret: undefined } }));

describe('localSettings', () => {
  it('is what a function reads from the environment it built: nothing but the signing secret is set around it', () => {
    const { settings, env } = localSettings({ engines: ENGINES, signingSecret: 'kept in memory' });
    expect(withoutSecret(settings)).toStrictEqual(withoutSecret(settingsFromEnv(env)));
    expect(settings.checker.signingSecret).toBe('kept in memory');
    expect(Object.values(env).join('\n')).not.toContain('kept in memory');
  });

  it('runs at the local pace, on loopback, against the local engines', () => {
    const { settings: s } = localSettings({ engines: ENGINES, checkerMs: 2_000, signingSecret: 's' });
    expect(s.heartbeat).toEqual({ busySeconds: 5, idleSeconds: 15 });
    expect(s.deadlines.dispatchTimeoutMs).toBe(10_000);
    expect(s.allowProcessRuntime).toBe(true);
    expect(s.checker).toMatchObject({ allowAddresses: ['loopback'], periodMs: 2_000, canaryRate: 0, networkEpochMs: 15_000 });
    expect(s.webhooks).toMatchObject({ allowAddresses: ['loopback'], httpAllowedFor: ['loopback'], retryQueueUrl: ENGINES.webhookQueueUrl });
    expect(s.queues).toMatchObject({ prefix: 'gpupool-node-', dlqArn: ENGINES.nodeDlqArn });
    expect(s.files).toEqual({ ...ENGINES.files, uploadsExpireDays: 30 });
    expect(s.governance).toMatchObject({ minVotingSeconds: 5, enactmentDelaySeconds: 2, parametersCacheMs: 1_000 });
    expect(s.services).toMatchObject({ periodSeconds: 60, tickSeconds: 1 });
  });

  it('takes the stage through the same function as the CDK stack: the variables it does not pace are functionEnvironment\'s, value for value', () => {
    const stage = resolveStageConfig({ [CONTEXT_KEYS.feeBps]: 250, [CONTEXT_KEYS.minStakePerGpu]: 3, [CONTEXT_KEYS.unstakeCooldownHours]: 2, [CONTEXT_KEYS.checkerNetworkRewardPerEpoch]: 7, [CONTEXT_KEYS.creditSymbol]: 'QQ' });
    const cdk = functionEnvironment(stage, ENGINES.nodeDlqArn);
    const { env, settings } = localSettings({ stage, engines: ENGINES, signingSecret: 's' });
    const withoutStage = localSettings({ engines: ENGINES, signingSecret: 's' }).env;
    // the stage's ledger and checker network pay reach the local stack exactly as they reach a Lambda function
    for (const k of ['GPUPOOL_STAGE', 'LEDGER_FEE_BPS', 'LEDGER_REWARD_SHARE_BPS', 'LEDGER_MIN_STAKE_PER_GPU', 'LEDGER_UNSTAKE_COOLDOWN_SECONDS', 'LEDGER_SLASH_BPS', 'LEDGER_SYMBOL', 'CHECKER_NETWORK_REWARD_PER_EPOCH', 'CHECKER_NETWORK_PENALTY_PER_REPORT']) expect(env[k], k).toBe(cdk[k]);
    // ... and it is the stage that set them: without one the local stack has the functions' defaults
    for (const k of ['LEDGER_FEE_BPS', 'LEDGER_MIN_STAKE_PER_GPU', 'LEDGER_SYMBOL', 'CHECKER_NETWORK_REWARD_PER_EPOCH']) expect(withoutStage[k], k).not.toBe(cdk[k]);
    expect(settings.ledger).toMatchObject({ feeBps: 250, minStakePerGpu: 3_000_000, unstakeCooldownMs: 7_200_000, symbol: 'QQ' });
    // and the local pace wins where it should: a stage's epoch (60 s or more) runs at most 15 s here
    expect(cdk.CHECKER_NETWORK_EPOCH_SECONDS).toBe('600');
    expect(settings.checker.networkEpochMs).toBe(15_000);
  });

  it("applies a caller's overrides last, field by field", () => {
    const { settings: s } = localSettings({
      engines: ENGINES,
      signingSecret: 's',
      settings: { heartbeat: { busySeconds: 1, idleSeconds: 2 }, ledger: { feeBps: 7 } as never, queues: { visibilityTimeoutSeconds: 1 } as never },
      checker: { canaryRate: 1, signingSecret: 'a test secret' },
      webhooks: { retryDelaysSeconds: [1, 1, 1] },
    });
    expect(s.heartbeat).toEqual({ busySeconds: 1, idleSeconds: 2 });
    expect(s.ledger.feeBps).toBe(7);
    expect(s.ledger.symbol).toBe('ATH');
    expect(s.queues).toMatchObject({ visibilityTimeoutSeconds: 1, prefix: 'gpupool-node-' });
    expect(s.checker).toMatchObject({ canaryRate: 1, allowAddresses: ['loopback'], signingSecret: 'a test secret' });
    expect(s.webhooks).toMatchObject({ retryDelaysSeconds: [1, 1, 1], allowAddresses: ['loopback'] });
  });

  it('refuses an override no function could be deployed with, naming its variable', () => {
    expect(() => localSettings({ engines: ENGINES, signingSecret: 's', settings: { heartbeat: { busySeconds: Number.NaN, idleSeconds: 2 } } })).toThrow(SettingsEnvError);
    expect(() => localSettings({ engines: ENGINES, signingSecret: 's', webhooks: { retryDelaysSeconds: [5, 5_000] } })).toThrow(/WEBHOOK_RETRY_DELAYS_SECONDS=.*900/);
  });
});

describe('a started local stack', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, adminKey: formatApiKey(newKeyId(), newSecret()), sweepMs: 3_600_000, reaperMs: 3_600_000, settings: { heartbeat: { busySeconds: 2, idleSeconds: 4 } }, checker: { canaryRate: 0.5 } });
  }, 60_000);
  afterAll(() => stack?.stop());

  it('runs with settings a function could read from its environment, overrides included', () => {
    const s = stack.deps.settings;
    expect(withoutSecret(settingsFromEnv(settingsToEnv(s)))).toStrictEqual(withoutSecret(s));
    expect(s.heartbeat).toEqual({ busySeconds: 2, idleSeconds: 4 });
    expect(s.checker).toMatchObject({ canaryRate: 0.5, allowAddresses: ['loopback'] });
    expect(s.checker.signingSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(s.agentSqsEndpoint).toBe(stack.sqsEndpoint);
    expect(s.services?.baseUrl).toBe(stack.apiUrl);
  });
});
