// The submit-to-running samples per node on DynamoDB Local (GET /v1/offers, issue 20): a full list drops its
// oldest, so the item stays bounded and holds the newest starts, also under concurrent writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDocClient } from '../../functions/store/clients';
import { MAX_SAMPLES } from '../../functions/store/start-stats-store';
import { buildDeps, newId, settingsFromEnv, type Deps } from '../../functions/usecases/deps';
import { startEngines, type Engines } from '../helpers/engines';

let engines: Engines;
let d: Deps;

beforeAll(async () => {
  engines = await startEngines();
  d = buildDeps({ db: makeDocClient(engines.ddb), sqs: engines.sqs, tables: engines.tableNames, settings: settingsFromEnv({}) });
}, 120_000);
afterAll(async () => engines?.stop());

describe('start samples', () => {
  it('keeps at most MAX_SAMPLES, the newest, in order', async () => {
    const node = `n-${newId()}`;
    for (let i = 0; i < 45; i++) await d.jobs.startStats.record(node, i, 1000 + i);
    const s = (await d.jobs.startStats.samples([node])).get(node)!;
    expect(s.length).toBeLessThanOrEqual(MAX_SAMPLES);
    expect(s.length).toBeGreaterThan(MAX_SAMPLES - 10);
    expect(s.map((x) => x.ms)).toEqual(Array.from({ length: s.length }, (_, i) => 45 - s.length + i));
  });

  it('concurrent records never fail and stay bounded; unknown nodes have none', async () => {
    const node = `n-${newId()}`;
    await Promise.all(Array.from({ length: 60 }, (_, i) => d.jobs.startStats.record(node, i, 2000 + i)));
    const all = await d.jobs.startStats.samples([node, 'no-such-node']);
    expect(all.get(node)!.length).toBeLessThanOrEqual(MAX_SAMPLES);
    expect(all.get(node)!.length).toBeGreaterThan(0);
    expect(all.has('no-such-node')).toBe(false);
  });
});
