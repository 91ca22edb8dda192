// The deployed shape of gpupool, asserted on the synthesized templates. The app is synthesized once
// (with real esbuild bundling) and shared by every test in this file.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_GROUPS } from '../../functions/http/routes';
import { SHARDS, TABLES, tableEnvVar, type TableId } from '../../functions/store/tables';
import { resolveStageConfig } from '../../lib/config';
import { gatewayRoutes } from '../../lib/constructs/api';
import { type ControlPlaneStack, type FunctionName, TABLE_GRANTS } from '../../lib/stacks/control-plane-stack';
import type { DataStack } from '../../lib/stacks/data-stack';
import { cdkContext, cfnLint, cfnLintMissing, list, nagErrors, roleStatements, synthStages } from './cdk-helpers';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

const config = resolveStageConfig(cdkContext);
const PUBLIC_ROUTES = ['GET /v1/health', 'GET /v1/openapi.json', 'GET /install.sh', 'GET /agent/gpupool-agent.mjs', 'GET /agent/gpupool-agent.mjs.sha256', 'GET /cli/gpupool.mjs', 'GET /checker/{file}', 'GET /console'];

let outdir: string;
let app: App;
let data: DataStack;
let cp: ControlPlaneStack;
let dataT: Template;
let cpT: Template;
let cpRes: Record<string, Resource>;

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'gpupool-cdk-'));
  // the same context (feature flags, gpupool settings) and stacks as bin/app.ts
  ({ app, data, cp } = synthStages({ outdir, bundle: true }));
  dataT = Template.fromStack(data);
  cpT = Template.fromStack(cp);
  cpRes = cpT.toJSON().Resources;
  // a synth with real bundling (every function, the agent and the CLI through esbuild) takes about a minute
  // beside the rest of the suite on 2 cores
}, 300_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const logicalId = (stack: DataStack | ControlPlaneStack, c: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(c.node.defaultChild as never);
const fnId = (name: FunctionName) => logicalId(cp, cp.functions[name].fn);
const ofType = (type: string) => Object.entries(cpRes).filter(([, r]) => r.Type === type);
const tableIds = () => Object.fromEntries(TABLES.map((d) => [d.id, logicalId(data, data.tables[d.id].table as never)])) as Record<TableId, string>;

/** Every statement of every IAM policy (managed, inline and role-attached) of a template. */
function statements(resources: Record<string, Resource>): { owner: string; s: Record<string, any> }[] {
  const out: { owner: string; s: Record<string, any> }[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const docs =
      r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy'
        ? [r.Properties.PolicyDocument]
        : r.Type === 'AWS::IAM::Role'
          ? (r.Properties.Policies ?? []).map((p: any) => p.PolicyDocument)
          : [];
    for (const d of docs) for (const s of d.Statement) out.push({ owner: id, s });
  }
  return out;
}

/** Statements of the policy attached to a function's role. */
const fnStatements = (name: FunctionName) => roleStatements(cpRes, cpRes[fnId(name)].Properties.Role['Fn::GetAtt'][0]);

/** `METHOD /full/path` for every API Gateway method, resolved through the resource tree. */
function methodIndex(): Map<string, Resource> {
  const pathOf = (ref: any): string => {
    if (ref['Fn::GetAtt']) return '';
    const r = cpRes[ref.Ref];
    return `${pathOf(r.Properties.ParentId)}/${r.Properties.PathPart}`;
  };
  return new Map(ofType('AWS::ApiGateway::Method').map(([, m]) => [`${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId)}`, m]));
}

describe('functions', () => {
  it('are all nodejs22.x on arm64, with source maps on, an own log group and the right timeout', () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns).toHaveLength(Object.keys(cp.functions).length);
    for (const [id, f] of fns) {
      expect(f.Properties, id).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler', MemorySize: 512 });
      expect(f.Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
      expect(cpRes[f.Properties.LoggingConfig.LogGroup.Ref].Type).toBe('AWS::Logs::LogGroup');
    }
    for (const n of ['sweep', 'reaper', 'checker', 'webhooks'] as const) expect(cpRes[fnId(n)].Properties.Timeout).toBe(60);
    for (const n of [...ROUTE_GROUPS, 'authorizer'] as const) expect(cpRes[fnId(n)].Properties.Timeout).toBe(10);
  });

  it('keep their logs for the configured retention', () => {
    cpT.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: config.logRetentionDays });
  });

  it('get the names of the tables they may use, and no other, and the stage settings', () => {
    const tables = tableIds();
    for (const name of Object.keys(TABLE_GRANTS) as FunctionName[]) {
      const env = cpRes[fnId(name)].Properties.Environment.Variables;
      for (const t of TABLES) {
        if (TABLE_GRANTS[name][t.id]) expect(JSON.stringify(env[tableEnvVar(t.id)]), `${name} ${t.id}`).toContain(tables[t.id]);
        else expect(env[tableEnvVar(t.id)], `${name} is given ${t.id} without a grant`).toBeUndefined();
      }
    }
    for (const [id, f] of ofType('AWS::Lambda::Function')) {
      const env = f.Properties.Environment.Variables;
      expect(env, id).toMatchObject({
        GPUPOOL_STAGE: config.stage,
        HEARTBEAT_BUSY_SECONDS: String(config.heartbeatBusySeconds),
        HEARTBEAT_IDLE_SECONDS: String(config.heartbeatIdleSeconds),
        DISPATCH_TIMEOUT_SECONDS: String(config.dispatchTimeoutSeconds),
        NODE_QUEUE_PREFIX: config.nodeQueuePrefix,
        // every function may post to the ledger (settlements ride on any transition): one fee, one stake rule
        LEDGER_FEE_BPS: String(config.ledger.feeBps),
        LEDGER_MIN_STAKE_PER_GPU: String(config.ledger.minStakePerGpu * 1_000_000),
        // the checker network's pace and pay (cdk.json gpupool:checkerNetwork*)
        CHECKER_NETWORK_EPOCH_SECONDS: String(config.checkerNetwork.epochSeconds),
        CHECKER_NETWORK_REWARD_PER_EPOCH: String(config.checkerNetwork.rewardPerEpoch),
        CHECKER_NETWORK_PENALTY_PER_REPORT: String(config.checkerNetwork.penaltyPerReport),
      });
      expect(JSON.stringify(env.NODE_DLQ_ARN)).toContain(logicalId(data, data.nodeDlq as never));
    }
  });

  it('are granted exactly the table access of TABLE_GRANTS, index by index', () => {
    const tables = tableIds();
    for (const name of Object.keys(TABLE_GRANTS) as FunctionName[]) {
      const stmts = fnStatements(name);
      for (const t of TABLES) {
        // stream reads (the webhooks function's event source) are asserted with the webhooks construct
        const onTable = stmts.filter((s) => JSON.stringify(s.Resource).includes(tables[t.id]) && !JSON.stringify(s.Resource).includes('StreamArn'));
        const actions = onTable.flatMap((s) => list(s.Action));
        const grant = TABLE_GRANTS[name][t.id];
        expect(actions.includes('dynamodb:GetItem'), `${name} reads ${t.id}`).toBe(grant !== undefined);
        expect(actions.includes('dynamodb:PutItem'), `${name} writes ${t.id}`).toBe(grant === 'write');
        if (grant) expect(onTable.flatMap((s) => list(s.Resource))).toHaveLength(1 + t.indexes.length);
      }
    }
  });

  it('bundle to ESM files of at most 1 MB with a require shim', () => {
    const bundles = readdirSync(outdir)
      .filter((d) => d.startsWith('asset.'))
      .map((d) => path.join(outdir, d, 'index.mjs'));
    expect(bundles).toHaveLength(Object.keys(cp.functions).length);
    for (const b of bundles) {
      expect(statSync(b).size, b).toBeLessThanOrEqual(1024 * 1024);
      expect(readFileSync(b, 'utf8').startsWith("import { createRequire as __gpupoolCreateRequire } from 'node:module';")).toBe(true);
    }
  });
});

describe('data stack', () => {
  it('pins the tables’ logical IDs (changing one replaces a table: never do it)', () => {
    expect(tableIds()).toEqual({
      accounts: 'TablesAccountsTable07EEEA72',
      keys: 'TablesKeysTable114E007B',
      nodes: 'TablesNodesTableBA12C3DB',
      jobs: 'TablesJobsTable5ECCB73A',
      logs: 'TablesLogsTableF3283560',
      idempotency: 'TablesIdempotencyTable9CFEB1A0',
      scores: 'TablesScoresTableB583179D',
      burst: 'TablesBurstTable82DD04E5',
      webhooks: 'TablesWebhooksTableAC86AECF',
      ledger: 'TablesLedgerTableDAA6E5E4',
      secrets: 'TablesSecretsTableCEB1437C',
      governance: 'TablesGovernanceTable5B98E9A4',
      services: 'TablesServicesTable12C43B62',
      files: 'TablesFilesTableAFE889CB',
    });
  });

  it.each(TABLES.map((d) => [d.id, d] as const))('%s: on-demand, PITR, retained, keys and indexes as defined', (id, def) => {
    const r = dataT.toJSON().Resources[tableIds()[id]] as Resource;
    expect(r).toMatchObject({ Type: 'AWS::DynamoDB::Table', DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(r.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(r.Properties.TableName).toBeUndefined();
    expect(r.Properties.TimeToLiveSpecification).toEqual(def.ttlAttribute ? { AttributeName: def.ttlAttribute, Enabled: true } : undefined);
    expect(r.Properties.KeySchema).toEqual([
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
      ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' }] : []),
    ]);
    expect((r.Properties.GlobalSecondaryIndexes ?? []).map((i: any) => i.IndexName)).toEqual(def.indexes.map((i) => i.name));
  });

  it('has the node DLQ, encrypted, TLS only, retained, with an alarm when it is not empty', () => {
    const qId = logicalId(data, data.nodeDlq as never);
    dataT.hasResource('AWS::SQS::Queue', {
      DeletionPolicy: 'Retain',
      Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600, QueueName: Match.absent() },
    });
    dataT.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    dataT.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [qId, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});

describe('API', () => {
  it('takes the usage identifier from the authorizer', () => {
    cpT.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER', EndpointConfiguration: { Types: ['REGIONAL'] } });
  });

  it('has a TOKEN authorizer on x-api-key whose cache TTL is at most 60 s', () => {
    const [[, a]] = ofType('AWS::ApiGateway::Authorizer');
    expect(a.Properties).toMatchObject({ Type: 'TOKEN', IdentitySource: 'method.request.header.x-api-key' });
    expect(a.Properties.AuthorizerResultTtlInSeconds).toBe(config.authorizerCacheTtlSeconds);
    expect(a.Properties.AuthorizerResultTtlInSeconds).toBeLessThanOrEqual(60);
    expect(JSON.stringify(a.Properties.AuthorizerUri)).toContain(fnId('authorizer'));
  });

  it('has one method per route, on its group’s function, exactly', () => {
    const methods = methodIndex();
    const routes = gatewayRoutes();
    expect([...methods.keys()].sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
    for (const r of routes) {
      const m = methods.get(`${r.method} ${r.path}`)!;
      expect(m.Properties.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(m.Properties.Integration.Uri), `${r.method} ${r.path}`).toContain(fnId(r.group));
    }
  });

  it('requires the key and the authorizer on every route except health, openapi, install.sh and console', () => {
    for (const [key, m] of methodIndex()) {
      const isPublic = PUBLIC_ROUTES.includes(key);
      expect(m.Properties.ApiKeyRequired, key).toBe(!isPublic);
      expect(m.Properties.AuthorizationType, key).toBe(isPublic ? 'NONE' : 'CUSTOM');
      expect(m.Properties.RequestValidatorId, key).toBeDefined();
    }
  });

  it('validates requests and writes JSON access logs', () => {
    cpT.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true, ValidateRequestParameters: true });
    const [[, stage]] = ofType('AWS::ApiGateway::Stage');
    expect(stage.Properties.StageName).toBe(config.stage);
    expect(JSON.parse(stage.Properties.AccessLogSetting.Format)).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    expect(stage.Properties.MethodSettings).toEqual([expect.objectContaining({ LoggingLevel: 'ERROR', HttpMethod: '*', ResourcePath: '/*' })]);
  });

  it('answers its own errors as application/problem+json', () => {
    const responses = ofType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties);
    expect(responses.map((r) => r.ResponseType)).toEqual(expect.arrayContaining(['DEFAULT_4XX', 'DEFAULT_5XX', 'UNAUTHORIZED', 'THROTTLED']));
    for (const r of responses) {
      expect(r.ResponseParameters['gatewayresponse.header.Content-Type']).toBe("'application/problem+json'");
      const body = JSON.parse(r.ResponseTemplates['application/json'].replace('$context.error.messageString', '"m"'));
      expect(body).toMatchObject({ type: 'about:blank', detail: 'm' });
      if (r.StatusCode) expect(body.status).toBe(Number(r.StatusCode));
    }
    expect(responses.find((r) => r.ResponseType === 'MISSING_AUTHENTICATION_TOKEN')?.StatusCode).toBe('404');
  });

  it('meters callers in the default usage plan through a fixed set of usage keys the authorizer hashes accounts into', () => {
    cpT.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: config.usagePlan.rateLimit, BurstLimit: config.usagePlan.burstLimit },
      Quota: { Limit: config.usagePlan.quotaPerDay, Period: 'DAY' },
      ApiStages: [Match.objectLike({ Stage: { Ref: ofType('AWS::ApiGateway::Stage')[0][0] } })],
    });
    const keys = ofType('AWS::ApiGateway::ApiKey').filter(([id]) => id.includes('DefaultTierKey'));
    expect(keys).toHaveLength(config.usageKeyBuckets);
    const env = cpRes[fnId('authorizer')].Properties.Environment.Variables;
    expect(env.USAGE_KEY_BUCKETS).toBe(String(config.usageKeyBuckets));
    const [planId] = ofType('AWS::ApiGateway::UsagePlan').find(([, r]) => r.Properties.Quota)!;
    for (const [i, [keyId, key]] of keys.entries()) {
      cpT.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', { KeyId: { Ref: keyId }, KeyType: 'API_KEY', UsagePlanId: { Ref: planId } });
      // each key's value is the base the authorizer knows, plus its bucket number
      // (CloudFormation's join of a join comes out flat)
      expect(key.Properties.Value).toEqual({ 'Fn::Join': ['', [...env.USAGE_IDENTIFIER_KEY['Fn::Join'][1], `-${i}`]] });
    }
  });

  it('meters node keys in an agent usage plan of their own, by node, with keys no account shares and no quota to spend (issue 14.9)', () => {
    const plans = ofType('AWS::ApiGateway::UsagePlan');
    expect(plans).toHaveLength(2);
    const [agentPlanId, agentPlan] = plans.find(([, r]) => !r.Properties.Quota)!;
    expect(agentPlan.Properties.Throttle).toEqual({ RateLimit: config.agentUsagePlan.rateLimit, BurstLimit: config.agentUsagePlan.burstLimit });
    expect(agentPlan.Properties.ApiStages).toEqual([expect.objectContaining({ Stage: { Ref: ofType('AWS::ApiGateway::Stage')[0][0] } })]);
    // a node is never throttled by accounts: the agent plan is wider than the account tier per key
    expect(config.agentUsagePlan.rateLimit).toBeGreaterThanOrEqual(config.usagePlan.rateLimit);

    const env = cpRes[fnId('authorizer')].Properties.Environment.Variables;
    expect(env.USAGE_AGENT_KEY_BUCKETS).toBe(String(config.agentUsageKeyBuckets));
    const agentKeys = ofType('AWS::ApiGateway::ApiKey').filter(([id]) => id.includes('AgentTierKey'));
    expect(agentKeys).toHaveLength(config.agentUsageKeyBuckets);
    expect(ofType('AWS::ApiGateway::ApiKey')).toHaveLength(config.usageKeyBuckets + config.agentUsageKeyBuckets);
    const planKeys = ofType('AWS::ApiGateway::UsagePlanKey').map(([, r]) => r.Properties);
    for (const [i, [keyId, key]] of agentKeys.entries()) {
      // the value the authorizer returns for a node that hashes into bucket i, in the agent plan only
      expect(key.Properties.Value).toEqual({ 'Fn::Join': ['', [...env.USAGE_IDENTIFIER_KEY['Fn::Join'][1], `-agent-${i}`]] });
      expect(planKeys.filter((p) => p.KeyId.Ref === keyId)).toEqual([{ KeyId: { Ref: keyId }, KeyType: 'API_KEY', UsagePlanId: { Ref: agentPlanId } }]);
    }
    // the access log names the node behind an agent-tier request, so a flooding node can be found and cut off
    const stage = ofType('AWS::ApiGateway::Stage')[0][1];
    expect(JSON.parse(stage.Properties.AccessLogSetting.Format)).toMatchObject({ nodeId: '$context.authorizer.nodeId', usageKeyId: '$context.identity.apiKeyId' });
    // CloudFormation's per-stack limit (500): the usage keys (two resources each) leave room under it. 450 at
    // the defaults since the checker network's routes (issue 19: /checker/{file} is one route for three files)
    expect(Object.keys(cpRes).length).toBeLessThanOrEqual(450);
  });

  it("gives the nodes function, and only it, the making of each node's own usage key in the agent plan (issue 14.9)", () => {
    const [, agentPlan] = ofType('AWS::ApiGateway::UsagePlan').find(([, r]) => !r.Properties.Quota)!;
    const env = cpRes[fnId('nodes')].Properties.Environment.Variables;
    // the same base the authorizer computes node key values from, and the agent plan's name
    expect(env.USAGE_IDENTIFIER_KEY).toEqual(cpRes[fnId('authorizer')].Properties.Environment.Variables.USAGE_IDENTIFIER_KEY);
    expect(env.USAGE_AGENT_PLAN_NAME).toBe(agentPlan.Properties.UsagePlanName);
    expect(agentPlan.Properties.UsagePlanName).toBe(`${cp.stackName}-agent-tier`);
    const apigwStatements = (name: FunctionName) => fnStatements(name).filter((s) => list(s.Action).some((a: string) => a.startsWith('apigateway:')));
    const [grant, ...more] = apigwStatements('nodes');
    expect(more).toEqual([]);
    expect(list(grant.Action).sort()).toEqual(['apigateway:DELETE', 'apigateway:GET', 'apigateway:POST']);
    const resources = JSON.stringify(grant.Resource);
    for (const path of ['::/apikeys"', '::/apikeys/*"', '::/usageplans"', '::/usageplans/*/keys"']) expect(resources).toContain(path);
    for (const name of (Object.keys(cp.functions) as FunctionName[]).filter((n) => n !== 'nodes')) expect(apigwStatements(name), name).toEqual([]);
  });
});

/** the placement wake queue (lib/constructs/wake-queue.ts): the one SQS queue whose id starts so */
function placementQueueId(): string {
  const ids = Object.keys(cpRes).filter((id) => id.startsWith('PlacementWakeQueue') && cpRes[id].Type === 'AWS::SQS::Queue');
  expect(ids).toHaveLength(1);
  return ids[0];
}

describe('placement wake', () => {
  it('lets only the agent, accounts and services functions send wakes, and the sweep consume them, two batches at most at once', () => {
    const q = placementQueueId();
    const wakers: readonly FunctionName[] = ['agent', 'accounts', 'services', 'serviceTick'];
    const sends = (name: FunctionName) => fnStatements(name).filter((s) => list(s.Action).includes('sqs:SendMessage') && JSON.stringify(s.Resource).includes(q));
    for (const name of Object.keys(cp.functions) as FunctionName[]) expect(sends(name).length, name).toBe(wakers.includes(name) ? 1 : 0);
    for (const name of wakers) expect(cpRes[fnId(name)].Properties.Environment.Variables.PLACEMENT_QUEUE_URL).toEqual({ Ref: q });
    const mappings = Object.values(cpRes).filter((r: any) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties.EventSourceArn).includes(q)) as any[];
    expect(mappings).toHaveLength(1);
    expect(mappings[0].Properties).toMatchObject({ FunctionName: { Ref: fnId('sweep') }, BatchSize: 10, ScalingConfig: { MaximumConcurrency: 2 } });
    expect(cpRes[q].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 120 });
  });
});

describe('services wake', () => {
  it("lets no function send wakes (the routing tier's task role does, in its own stack) and the services reconciler consume them", () => {
    const q = logicalId(cp, cp.serviceWake.queue);
    const sends = (name: FunctionName) => fnStatements(name).filter((s) => list(s.Action).includes('sqs:SendMessage') && JSON.stringify(s.Resource).includes(q));
    for (const name of Object.keys(cp.functions) as FunctionName[]) expect(sends(name).length, name).toBe(0);
    const mappings = Object.values(cpRes).filter((r: any) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties.EventSourceArn).includes(q)) as any[];
    expect(mappings).toHaveLength(1);
    expect(mappings[0].Properties).toMatchObject({ FunctionName: { Ref: fnId('serviceTick') }, BatchSize: 10, ScalingConfig: { MaximumConcurrency: 2 } });
    expect(cpRes[q].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 120 });
  });
});

describe('security', () => {
  it('lets only the agent function assume the agent role, with session tags, for at most an hour', () => {
    const roleId = logicalId(cp, cp.agentRole.role);
    const role = cpRes[roleId].Properties;
    expect(role.MaxSessionDuration).toBe(3600);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Principal: { AWS: cpRes[fnId('agent')].Properties.Role },
      },
    ]);
    const queueScope = JSON.stringify(statements({ [roleId]: cpRes[roleId] }).map(({ s }) => s.Resource));
    expect(queueScope).toContain(`${config.nodeQueuePrefix}\${aws:PrincipalTag/nodeId}`);
    expect(cpRes[fnId('agent')].Properties.Environment.Variables.AGENT_ROLE_ARN).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    const assume = fnStatements('agent').filter((s) => list(s.Action).includes('sts:AssumeRole'));
    expect(assume).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [roleId, 'Arn'] } })]);
  });

  it('has no IAM statement on Resource "*" (but X-Ray\'s writes) and scopes every SQS grant to the node queue prefix', () => {
    const all = [...statements(cpRes), ...statements(dataT.toJSON().Resources)];
    // queues of the stack's own, named by their ARNs: the webhook retry queue and its DLQ, the placement and services wake queues
    const ownQueueIds = [logicalId(cp, cp.webhooks.retryQueue), logicalId(cp, cp.webhooks.deadLetterQueue), placementQueueId(), logicalId(cp, cp.serviceWake.queue)];
    expect(all.length).toBeGreaterThan(10);
    // active tracing: these two actions have no resource-level permissions, so AWS requires "*"
    const xrayWrites = (s: Record<string, any>) => list(s.Action).every((a: string) => a === 'xray:PutTraceSegments' || a === 'xray:PutTelemetryRecords');
    for (const { owner, s } of all) {
      if (!xrayWrites(s)) for (const r of list(s.Resource)) expect(r, owner).not.toBe('*');
      if (list(s.Action).some((a: string) => a.startsWith('sqs:'))) {
        for (const r of list(s.Resource)) {
          // the stack's own queues are tested by their constructs' tests (webhooks) and below (placement)
          if (ownQueueIds.includes(r?.['Fn::GetAtt']?.[0])) continue;
          expect(JSON.stringify(r), owner).toMatch(new RegExp(`:${config.nodeQueuePrefix}(\\*|\\$\\{aws:PrincipalTag/nodeId\\})"`));
        }
      }
    }
  });

  it('creates the admin key as a generated secret and outputs only its ARN', () => {
    const secretId = logicalId(cp, cp.adminKey);
    cpT.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: Match.absent(),
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'secret', SecretStringTemplate: '{"keyId":"bootstrapadmin"}' }),
    });
    cpT.hasOutput('AdminKeySecretArn', { Value: { Ref: secretId } });
    for (const n of ['accounts', 'authorizer'] as const) {
      expect(cpRes[fnId(n)].Properties.Environment.Variables.ADMIN_KEY_SECRET_ARN).toEqual({ Ref: secretId });
      expect(fnStatements(n).some((s) => list(s.Action).includes('secretsmanager:GetSecretValue'))).toBe(true);
    }
    expect(JSON.stringify(cpT.toJSON().Outputs)).not.toMatch(/resolve:secretsmanager/);
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged error', () => {
    expect(nagErrors(app)).toEqual([]);
    for (const stack of [data, cp]) expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  it.skipIf(cfnLintMissing())('passes cfn-lint with no error', () => {
    const templates = readdirSync(outdir).filter((f) => f.endsWith('.template.json')).map((f) => path.join(outdir, f));
    expect(templates).toHaveLength(2);
    const run = cfnLint(templates);
    // exit status is a bit set: 2 error, 4 warning, 8 informational; only errors fail
    expect(run.status, run.stdout + run.stderr).not.toBeNull();
    expect(run.status! & 2, run.stdout).toBe(0);
  }, 60_000);
});

describe('schedules', () => {
  it.each([
    ['sweep', config.sweepRateMinutes],
    ['reaper', config.reaperRateMinutes],
    // services' reconciler tick (docs/services.md)
    ['serviceTick', 1],
  ] as const)('run %s every %i minute(s), without retries', (name, minutes) => {
    cpT.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${minutes} minute${minutes === 1 ? '' : 's'})`,
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId(name), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
  });
});


describe('checker', () => {
  it('runs one rule per shard every minute, each with its shard as input, without retries', () => {
    const rules = ofType('AWS::Events::Rule').filter(([, r]) => JSON.stringify(r.Properties.Targets).includes(fnId('checker')));
    expect(rules).toHaveLength(SHARDS);
    const inputs = rules.map(([, r]) => {
      expect(r.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
      expect(r.Properties.Targets).toEqual([expect.objectContaining({ RetryPolicy: expect.objectContaining({ MaximumRetryAttempts: 0 }) })]);
      return JSON.parse(r.Properties.Targets[0].Input).shard;
    });
    expect(inputs.sort((a, b) => a - b)).toEqual(Array.from({ length: SHARDS }, (_, i) => i));
    expect(cpRes[fnId('checker')].Properties.Environment.Variables.CHECKER_PERIOD_SECONDS).toBe('60');
  });

  it('keeps the signing seed in a generated secret that only the checker, the agent API, the governance API (the checker network\'s probes) and the governance schedule (its epochs\' assignment secret) read', () => {
    const secretId = logicalId(cp, cp.checker.signingSecret);
    expect(cpRes[secretId].Properties.GenerateSecretString).toMatchObject({ PasswordLength: 64, ExcludePunctuation: true });
    const readers = (Object.keys(TABLE_GRANTS) as FunctionName[]).filter((n) =>
      fnStatements(n).some((s) => list(s.Action).includes('secretsmanager:GetSecretValue') && JSON.stringify(s.Resource).includes(secretId)),
    );
    expect(readers.sort()).toEqual(['agent', 'checker', 'enactment', 'governance']);
    for (const n of readers) expect(cpRes[fnId(n)].Properties.Environment.Variables.CHECKER_SIGNING_SECRET_ARN).toEqual({ Ref: secretId });
  });
});
