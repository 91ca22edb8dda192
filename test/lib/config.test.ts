import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cdkJsonContext } from '../../bin/cdk-json';
import { DEFAULT_CHECKER } from '../../functions/domain/checker/settings';
import { settingsFromEnv } from '../../functions/settings/env';
import { CONTEXT_KEYS, DEFAULTS, resolveStageConfig, type StageConfig } from '../../lib/config';
import { localSettings } from '../../lib/local/local-settings';
import { checkerNetworkEnvironment } from '../../lib/stage-settings';

const checkerSettingsFromEnv = (env: Record<string, string>) => settingsFromEnv(env).checker;
/** the checker network's settings the local stack runs with, for the stage bin/gpupool-local.ts made of a cdk.json */
function localNetwork(file?: string) {
  const stage: StageConfig = resolveStageConfig(cdkJsonContext(file));
  const engines = { region: 'us-east-1', nodeDlqArn: 'arn:dlq', sqsEndpoint: 'http://127.0.0.1:1', webhookQueueUrl: 'http://127.0.0.1:1/q', files: { bucket: 'b', endpoint: 'http://127.0.0.1:2' } };
  const c = localSettings({ stage, engines, signingSecret: 's' }).settings.checker;
  return { networkEpochMs: c.networkEpochMs, networkRewardPerEpoch: c.networkRewardPerEpoch, networkPenaltyPerReport: c.networkPenaltyPerReport };
}

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

describe('resolveStageConfig', () => {
  it('fills every field with its default', () => {
    expect(resolveStageConfig()).toEqual({ ...DEFAULTS, nodeQueuePrefix: 'gpupool-dev-node-' });
  });

  it('reads numbers given as strings (-c key=value) and substitutes {stage} in the queue prefix', () => {
    const c = resolveStageConfig({
      [CONTEXT_KEYS.stage]: 'prod',
      [CONTEXT_KEYS.heartbeatBusySeconds]: '5',
      [CONTEXT_KEYS.usagePlanQuotaPerDay]: 2000,
      [CONTEXT_KEYS.authorizerCacheTtlSeconds]: '0',
    });
    expect(c).toMatchObject({
      stage: 'prod',
      heartbeatBusySeconds: 5,
      usagePlan: { quotaPerDay: 2000 },
      authorizerCacheTtlSeconds: 0,
      nodeQueuePrefix: 'gpupool-prod-node-',
    });
  });

  it('returns a frozen object', () => {
    const c = resolveStageConfig();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.usagePlan)).toBe(true);
    expect(Object.isFrozen(c.agentUsagePlan)).toBe(true);
  });

  it.each([
    [CONTEXT_KEYS.stage, 'Prod', /stage/],
    [CONTEXT_KEYS.stage, 'a-very-long-stage-name-indeed', /stage/],
    [CONTEXT_KEYS.authorizerCacheTtlSeconds, 61, /authorizerCacheTtlSeconds must be an integer in 0\.\.60/],
    [CONTEXT_KEYS.heartbeatBusySeconds, '1.5', /heartbeatBusySeconds/],
    [CONTEXT_KEYS.heartbeatIdleSeconds, 4, /heartbeatIdleSeconds \(4\) must be >= /],
    [CONTEXT_KEYS.usagePlanBurstLimit, 10, /usagePlanBurstLimit \(10\) must be >= /],
    [CONTEXT_KEYS.agentUsagePlanBurstLimit, 10, /agentUsagePlanBurstLimit \(10\) must be >= /],
    [CONTEXT_KEYS.agentUsageKeyBuckets, 0, /agentUsageKeyBuckets must be an integer in 1\.\.100/],
    [CONTEXT_KEYS.logRetentionDays, 31, /logRetentionDays must be one of/],
    [CONTEXT_KEYS.nodeQueuePrefix, 'bad.prefix', /nodeQueuePrefix/],
    [CONTEXT_KEYS.nodeQueuePrefix, 'x'.repeat(41), /nodeQueuePrefix/],
    [CONTEXT_KEYS.functionMemoryMb, 64, /functionMemoryMb/],
    [CONTEXT_KEYS.sweepRateMinutes, 'often', /sweepRateMinutes/],
    [CONTEXT_KEYS.nodeQueuePrefix, 42, /nodeQueuePrefix must be a string/],
  ])('rejects %s = %j', (key, value, message) => {
    expect(() => resolveStageConfig({ [key]: value })).toThrow(message);
  });

  it('keeps the usage keys of both tiers within the resource budget of the stack', () => {
    expect(() => resolveStageConfig({ [CONTEXT_KEYS.usageKeyBuckets]: 40, [CONTEXT_KEYS.agentUsageKeyBuckets]: 100 })).toThrow(
      /usageKeyBuckets \+ gpupool:agentUsageKeyBuckets \(140\) must be <= 128/,
    );
    expect(resolveStageConfig({ [CONTEXT_KEYS.usageKeyBuckets]: 28, [CONTEXT_KEYS.agentUsageKeyBuckets]: 100 }).agentUsageKeyBuckets).toBe(100);
  });

  it('reports every invalid setting at once', () => {
    const run = () => resolveStageConfig({ [CONTEXT_KEYS.stage]: 'X', [CONTEXT_KEYS.functionMemoryMb]: 1 });
    expect(run).toThrow(/stage[\s\S]*functionMemoryMb/);
  });
});

describe('cdk.json', () => {
  it('runs the app with tsx, offline and quietly', () => {
    expect(cdkJson.app).toBe('npx tsx bin/app.ts');
    expect(cdkJson).toMatchObject({ notices: false, context: { 'cli-telemetry': false } });
  });

  it('sets exactly the known gpupool keys, and they resolve to the defaults', () => {
    const keys = Object.keys(cdkJson.context).filter((k) => k.startsWith('gpupool:'));
    expect(keys.sort()).toEqual(Object.values(CONTEXT_KEYS).sort());
    expect(resolveStageConfig(cdkJson.context)).toEqual(resolveStageConfig());
  });

  it('documents every key in docs/deploy.md', () => {
    const doc = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
    for (const key of Object.values(CONTEXT_KEYS)) expect(doc, key).toContain(`\`${key}\``);
  });
});

describe('the checker network settings (docs/checkers.md, Epochs and assignments; Rewards)', () => {
  it('default to what the functions default to, and reach them through the environment unchanged', () => {
    const c = resolveStageConfig().checkerNetwork;
    expect(c).toEqual({ epochSeconds: 600, rewardPerEpoch: 1_000_000, penaltyPerReport: 10_000 });
    const read = checkerSettingsFromEnv({ ...checkerNetworkEnvironment(c) });
    expect([read.networkEpochMs, read.networkRewardPerEpoch, read.networkPenaltyPerReport]).toEqual([DEFAULT_CHECKER.networkEpochMs, DEFAULT_CHECKER.networkRewardPerEpoch, DEFAULT_CHECKER.networkPenaltyPerReport]);
    const set = resolveStageConfig({ [CONTEXT_KEYS.checkerNetworkEpochSeconds]: '3600', [CONTEXT_KEYS.checkerNetworkRewardPerEpoch]: 5_000_000, [CONTEXT_KEYS.checkerNetworkPenaltyPerReport]: 0 }).checkerNetwork;
    expect(checkerSettingsFromEnv(checkerNetworkEnvironment(set))).toMatchObject({ networkEpochMs: 3_600_000, networkRewardPerEpoch: 5_000_000, networkPenaltyPerReport: 0 });
  });

  it('refuses epochs under a minute or over a day, and negative or huge amounts, all at once', () => {
    const run = () =>
      resolveStageConfig({ [CONTEXT_KEYS.checkerNetworkEpochSeconds]: 30, [CONTEXT_KEYS.checkerNetworkRewardPerEpoch]: -1, [CONTEXT_KEYS.checkerNetworkPenaltyPerReport]: 2e12 });
    expect(run).toThrow(/checkerNetworkEpochSeconds must be an integer in 60\.\.86400[\s\S]*checkerNetworkRewardPerEpoch[\s\S]*checkerNetworkPenaltyPerReport/);
    expect(() => resolveStageConfig({ [CONTEXT_KEYS.checkerNetworkEpochSeconds]: 86_401 })).toThrow(/checkerNetworkEpochSeconds/);
  });

  it('are read by the local stack from cdk.json: its rewards and penalties, at the demo pace of at most 15 s epochs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpupool-cdkjson-'));
    try {
      const file = join(dir, 'cdk.json');
      writeFileSync(file, JSON.stringify({ context: { [CONTEXT_KEYS.checkerNetworkEpochSeconds]: 900, [CONTEXT_KEYS.checkerNetworkRewardPerEpoch]: 2_500_000, [CONTEXT_KEYS.checkerNetworkPenaltyPerReport]: 7 } }));
      expect(localNetwork(file)).toEqual({ networkEpochMs: 15_000, networkRewardPerEpoch: 2_500_000, networkPenaltyPerReport: 7 });
      expect(localNetwork(join(dir, 'none.json'))).toEqual({ networkEpochMs: 15_000, networkRewardPerEpoch: 1_000_000, networkPenaltyPerReport: 10_000 });
      // the repository's cdk.json, as `npm start` reads it
      expect(localNetwork()).toEqual({ networkEpochMs: 15_000, networkRewardPerEpoch: cdkJson.context[CONTEXT_KEYS.checkerNetworkRewardPerEpoch], networkPenaltyPerReport: cdkJson.context[CONTEXT_KEYS.checkerNetworkPenaltyPerReport] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
