// The CDK app: the only place that reads CDK context and the environment. It turns them into a
// StageConfig and builds the two stacks of one stage; cdk-nag's AwsSolutions pack checks both.
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_KEYS, type RawContext, resolveStageConfig } from '../lib/config';
import { ConsoleStack } from '../lib/stacks/console-stack';
import { ControlPlaneStack } from '../lib/stacks/control-plane-stack';
import { DataStack } from '../lib/stacks/data-stack';
import { RouterStack } from '../lib/stacks/router-stack';
import { parseRouterSettings, servicesBaseUrl } from '../lib/router-settings';
import { parseBurstSettings } from '../functions/domain/burst/settings';

const app = new App();
const raw: RawContext = Object.fromEntries(Object.values(CONTEXT_KEYS).map((key) => [key, app.node.tryGetContext(key)]));
const config = resolveStageConfig(raw);
// `cdk deploy` with a profile fills these; without them the stacks are environment-agnostic
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };

const prefix = `Gpupool-${config.stage}`;
// the services' routing tier (Fargate + ALB): off unless cdk.json's "gpupool:servicesRouter" is true or
// {"enabled": true, ...}, since it is the one part of a stage with a fixed monthly cost (docs/services.md, AWS)
const routerSettings = parseRouterSettings(app.node.tryGetContext('gpupool:servicesRouter'));
const data = new DataStack(app, `${prefix}-Data`, {
  env,
  description: `gpupool ${config.stage}: tables and the node dead-letter queue (stateful, retained)`,
});
const controlPlane = new ControlPlaneStack(app, `${prefix}-ControlPlane`, {
  env,
  description: `gpupool ${config.stage}: API, functions, schedules`,
  config,
  tables: data.tables,
  nodeDlq: data.nodeDlq,
  servicesBaseUrl: servicesBaseUrl(routerSettings),
  // off unless cdk.json's "gpupool:burst" says {"enabled": true, ...} (docs/burst.md)
  burst: parseBurstSettings(app.node.tryGetContext('gpupool:burst')),
});

// the web console on CloudFront, which also routes /v1/* to this stage's API (docs/console.md)
new ConsoleStack(app, `${prefix}-Console`, {
  env,
  description: `gpupool ${config.stage}: web console (S3 + CloudFront, /v1/* to the API)`,
  api: controlPlane.api.api,
  apiStageName: config.stage,
  logRetentionDays: config.logRetentionDays,
});

if (routerSettings.enabled) {
  new RouterStack(app, `${prefix}-Router`, {
    env,
    description: `gpupool ${config.stage}: the services' routing tier (ECS Fargate behind an ALB)`,
    settings: routerSettings,
    tables: data.tables,
    signingSecret: controlPlane.checker.signingSecret,
    wakeQueue: controlPlane.serviceWake.queue,
    stage: config.stage,
    logRetentionDays: config.logRetentionDays,
  });
}

Tags.of(app).add('gpupool:stage', config.stage);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
