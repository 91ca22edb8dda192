// Shared setup of the CDK tests in test/lib: cdk.json's context, the stacks as bin/app.ts makes them,
// cdk-nag's unacknowledged errors, cfn-lint, and the policy statements attached to a role.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { parseBurstSettings } from '../../functions/domain/burst/settings';
import { type RawContext, resolveStageConfig } from '../../lib/config';
import { ControlPlaneStack } from '../../lib/stacks/control-plane-stack';
import { DataStack } from '../../lib/stacks/data-stack';

/** cdk.json's context: the feature flags and gpupool settings bin/app.ts reads. */
export const cdkContext = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: RawContext & Record<string, unknown> })
  .context;

/**
 * The data and control-plane stacks as bin/app.ts makes them from cdk.json's context (plus `extra`).
 * Bundling is skipped unless `bundle` (test/lib/stacks.test.ts and test/lib/deployed-bundles.test.ts bundle for real).
 */
export function synthStages(o: { extra?: RawContext & Record<string, unknown>; outdir?: string; bundle?: boolean; servicesBaseUrl?: string } = {}) {
  const context: RawContext & Record<string, unknown> = { ...cdkContext, ...o.extra };
  const app = new App({ ...(o.outdir ? { outdir: o.outdir } : {}), context: o.bundle ? context : { ...context, 'aws:cdk:bundling-stacks': [] } });
  const data = new DataStack(app, 'Data');
  const cp = new ControlPlaneStack(app, 'ControlPlane', {
    config: resolveStageConfig(context),
    tables: data.tables,
    nodeDlq: data.nodeDlq,
    // as bin/app.ts: off unless the context's "gpupool:burst" enables it
    burst: parseBurstSettings(context['gpupool:burst']),
    ...(o.servicesBaseUrl ? { servicesBaseUrl: o.servicesBaseUrl } : {}),
  });
  return { app, data, cp };
}

/** cdk-nag AwsSolutions errors under `scope` that no acknowledgement covers, as `rule at path, …`. */
export function nagErrors(app: App, scope: IConstruct = app): string[] {
  const report = new AwsSolutionsChecks(app).validateScope(scope);
  return report.violations
    .filter((v) => v.severity === 'error')
    .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
}

/** Whether cfn-lint is installed (the cfn-lint tests are skipped without it). */
export const cfnLintMissing = () => spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status !== 0;

/** cfn-lint over `templates`; its exit status is a bit set: 2 error, 4 warning, 8 informational. */
export const cfnLint = (templates: string[]) => spawnSync('cfn-lint', ['--format', 'parseable', ...templates], { encoding: 'utf8', timeout: 60_000 });

export const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** The statements of every AWS::IAM::Policy attached to the role with logical id `roleId`. */
export function roleStatements(resources: Record<string, { Type: string; Properties: Record<string, any> }>, roleId: string): Record<string, any>[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}
