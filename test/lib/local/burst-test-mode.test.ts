// `npm start -- --burst-test-mode`'s settings: cdk.json's instance types when it has them, else the demo
// catalogue; always the local pace and nothing AWS-specific; they pass the real settings schema.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cdkJsonContext } from '../../../bin/cdk-json';
import { parseBurstSettings } from '../../../functions/domain/burst/settings';
import { burstTestModeOptions, DEMO_CATALOGUE } from '../../../lib/local/burst-test-mode';

const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-burst-mode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** cdk.json's "gpupool:burst" as bin/gpupool-local.ts reads it, from a file with this context */
function cdkJson(context: Record<string, unknown>): unknown {
  const file = path.join(dir, `cdk-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ app: 'x', context }));
  return cdkJsonContext(file)['gpupool:burst'];
}

describe('burstTestModeOptions', () => {
  it('uses the demo catalogue when cdk.json configures no burst', () => {
    const o = burstTestModeOptions('/data', cdkJson({}));
    expect(o.settings.instanceTypes).toEqual(DEMO_CATALOGUE);
    expect(o).toMatchObject({ stateDir: '/data/burst', tickMs: 2_000, source: expect.stringMatching(/demo catalogue/) });
    const s = parseBurstSettings({ ...o.settings, enabled: true });
    expect(s).toMatchObject({ waitSeconds: 10, idleMinutes: 2, maxInstances: 2, poolRegion: 'aws' });
  });

  it('takes cdk.json\'s instance types and limits, at the local pace', () => {
    const types = [{ instanceType: 'p4d.24xlarge', gpuModel: 'A100', gpus: 8, vramGb: 40, pricePerGpuHour: 4_000_000, costPerHourUsd: 32.77 }];
    const o = burstTestModeOptions('/data', cdkJson({ 'gpupool:burst': { enabled: false, instanceTypes: types, maxGpus: 16, subnetIds: ['subnet-1'] } }));
    expect(o.source).toBe('cdk.json gpupool:burst');
    const s = parseBurstSettings({ ...o.settings, enabled: true });
    expect(s.instanceTypes.map((t) => t.instanceType)).toEqual(['p4d.24xlarge']);
    expect(s).toMatchObject({ maxGpus: 8, idleMinutes: 2 });
  });

  it('works without a cdk.json', () => {
    expect(burstTestModeOptions('/d', cdkJsonContext(path.join(dir, 'missing.json'))['gpupool:burst']).settings.instanceTypes).toEqual(DEMO_CATALOGUE);
  });
});
