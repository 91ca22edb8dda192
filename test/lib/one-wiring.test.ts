// One wiring for both stacks (issue 18): the CDK stack and the local stack iterate the same tables of
// routes and schedules, so what the tests run locally is what AWS runs. Asserted on the synthesized
// template (unbundled: the wiring, not the bundles, which deployed-bundles.test.ts runs) and on a local
// stack as `npm start` builds it.
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_GROUPS, ROUTES } from '../../functions/http/routes';
import { SCHEDULES } from '../../functions/scheduled/schedules';
import { SHARDS } from '../../functions/store/tables';
import { resolveStageConfig } from '../../lib/config';
import { localApiHandlers, ROUTE_TABLES } from '../../lib/local/api-handlers';
import type { ControlPlaneStack, FunctionName } from '../../lib/stacks/control-plane-stack';
import { startPool, type Pool } from '../helpers/local-pool';
import { cdkContext, synthStages } from './cdk-helpers';

let cp: ControlPlaneStack;
let resources: Record<string, { Type: string; Properties: Record<string, any> }>;
let pool: Pool;

beforeAll(async () => {
  ({ cp } = synthStages());
  resources = Template.fromStack(cp).toJSON().Resources;
  pool = await startPool();
}, 120_000);
afterAll(async () => pool?.stop());

const fnOf = (logicalId: string): FunctionName | undefined =>
  (Object.keys(cp.functions) as FunctionName[]).find((n) => cp.getLogicalId(cp.functions[n].fn.node.defaultChild as never) === logicalId);

/** rule → [the function it runs, its rate, its input] from the template */
function deployedRules() {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::Events::Rule')
    .map((r) => ({ fn: fnOf(r.Properties.Targets[0].Arn['Fn::GetAtt'][0]), rate: r.Properties.ScheduleExpression as string, input: r.Properties.Targets[0].Input as string | undefined }));
}

describe('schedules', () => {
  it('the template has a rule for each entry of the schedule table, at its rate, and no other', () => {
    const config = resolveStageConfig(cdkContext);
    // as CDK writes a rate: whole hours in hours
    const minutes = (m: number) => (m % 60 === 0 ? `rate(${m / 60} hour${m === 60 ? '' : 's'})` : `rate(${m} minute${m === 1 ? '' : 's'})`);
    const want = SCHEDULES.filter((s) => !s.onlyWithBurst).flatMap((s): { fn: string; rate: string; input?: string }[] => {
      const rate = minutes(typeof s.rateMinutes === 'number' ? s.rateMinutes : config[s.rateMinutes as 'sweepRateMinutes' | 'reaperRateMinutes']);
      return s.perShard ? Array.from({ length: SHARDS }, (_, shard) => ({ fn: s.fn, rate, input: JSON.stringify({ shard }) })) : [{ fn: s.fn, rate, input: undefined }];
    });
    const key = (r: { fn?: string; rate: string; input?: string }) => `${r.fn} ${r.rate} ${r.input ?? ''}`;
    expect(deployedRules().map(key).sort()).toEqual(want.map(key).sort());
  });

  it('the local stack runs a timer for each entry of the same table (burst only in its test mode)', () => {
    expect([...pool.stack.schedules].sort()).toEqual(SCHEDULES.filter((s) => !s.onlyWithBurst).map((s) => s.name).sort());
  });

  it("each scheduled function's handler is the table's entry module", () => {
    for (const s of SCHEDULES.filter((x) => !x.onlyWithBurst)) {
      const fn = cp.functions[s.fn as FunctionName];
      expect(fn, s.name).toBeDefined();
      expect(fn.entry).toBe(s.entry);
    }
  });
});

describe('routes', () => {
  it('every route group is one function on AWS and one handler locally, over the same route table', () => {
    const local = localApiHandlers(() => pool.stack.deps);
    expect(Object.keys(local).sort()).toEqual([...ROUTE_GROUPS].sort());
    for (const g of ROUTE_GROUPS) {
      expect(cp.functions[g].entry).toBe(`functions/http/${g}.ts`);
      const mine = ROUTES.filter((r) => r.group === g).map((r) => `${r.method} ${r.path}`).sort();
      expect(Object.keys(ROUTE_TABLES[g]).sort(), g).toEqual(mine);
    }
  });
});
