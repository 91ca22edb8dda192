// The services' routing tier as synthesized: Fargate (arm64, 0.25 vCPU / 0.5 GB, two tasks, public IPs, no
// NAT), the ALB (HTTPS with a certificate, HTTP otherwise), Route 53 aliases, the task role's grants and
// nothing more, cdk-nag and cfn-lint clean; and the image's bundle runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, Tags } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageContext, ServiceRouter } from '../../lib/constructs/service-router';
import { GpupoolTables } from '../../lib/constructs/tables';
import { parseRouterSettings, servicesBaseUrl } from '../../lib/router-settings';
import { cfnLint, list, nagErrors, roleStatements, synthStages } from './cdk-helpers';

const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const dirs: string[] = [];

function synth(raw: unknown) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'gpupool-router-cdk-'));
  dirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'RouterTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const tables = new GpupoolTables(stack, 'Tables').refs;
  const secret = new secretsmanager.Secret(stack, 'Seed');
  const wake = new sqs.Queue(stack, 'Wake');
  const router = new ServiceRouter(stack, 'Router', { settings: parseRouterSettings(raw), tables, signingSecret: secret, stage: 'test', logRetentionDays: 30, wakeQueue: wake });
  // as bin/app.ts tags every resource of a stage
  Tags.of(app).add('gpupool:stage', 'test');
  const t = Template.fromStack(stack);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
  return { app, stack, router, t, res: t.toJSON().Resources as Record<string, any>, id, tableId: (n: 'services' | 'jobs' | 'nodes' | 'keys') => id(tables[n].table as never), secretId: id(secret as never), wakeId: id(wake as never), outdir };
}

let https: ReturnType<typeof synth>;
let plain: ReturnType<typeof synth>;
beforeAll(() => {
  https = synth({ enabled: true, certificateArn: CERT, servicesDomain: 'svc.example.com', hostedZoneId: 'Z0123456789ABC', hostedZoneName: 'example.com', location: '53.35,-6.26' });
  plain = synth(true);
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('routing tier construct', () => {
  it('runs two arm64 Fargate tasks of 0.25 vCPU / 0.5 GB with public IPs in two public subnets, no NAT gateway', () => {
    const { t } = https;
    t.hasResourceProperties('AWS::ECS::TaskDefinition', { Cpu: '256', Memory: '512', RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' } });
    t.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2, LaunchType: 'FARGATE', NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'ENABLED' }) } });
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::Subnet', 2);
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({}) });
    const env = Object.fromEntries((https.res[Object.keys(https.res).find((k) => https.res[k].Type === 'AWS::ECS::TaskDefinition')!].Properties.ContainerDefinitions[0].Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
    expect(Object.keys(env).sort()).toEqual(['AWS_REGION', 'CHECKER_SIGNING_SECRET_ARN', 'PORT', 'ROUTER_LOCATION', 'SERVICES_DOMAIN', 'SERVICES_WAKE_QUEUE_URL', 'TABLE_JOBS', 'TABLE_KEYS', 'TABLE_NODES', 'TABLE_SERVICES']);
    expect(env.ROUTER_LOCATION).toBe('53.35,-6.26');
    expect(env.SERVICES_DOMAIN).toBe('svc.example.com');
  });

  it('the tasks take traffic from the ALB only, on the router port', () => {
    const ingress = Object.values(https.res).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress');
    expect(ingress.map((r) => [r.Properties.FromPort, !!r.Properties.SourceSecurityGroupId])).toEqual([[8080, true]]);
  });

  it('with a certificate: HTTPS on 443 (TLS 1.2+ policy), port 80 only redirects; Route 53 aliases *.<domain> and the domain', () => {
    const { t } = https;
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: CERT }], SslPolicy: Match.stringLikeRegexp('TLS') });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP', DefaultActions: [Match.objectLike({ Type: 'redirect' })] });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'idle_timeout.timeout_seconds', Value: '180' }, { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' }]),
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 8080, TargetType: 'ip', HealthCheckPath: '/healthz' });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: '*.svc.example.com.', Type: 'A', HostedZoneId: 'Z0123456789ABC' });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'svc.example.com.', Type: 'A' });
    expect(https.router.baseUrl).toBe('https://svc.example.com');
  });

  it('without a certificate: one HTTP listener forwarding to the tasks, no DNS records', () => {
    const { t } = plain;
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP', DefaultActions: [Match.objectLike({ Type: 'forward' })] });
    t.resourceCountIs('AWS::Route53::RecordSet', 0);
  });

  it("grants the task exactly the router's reads and its two narrow writes, nothing more", () => {
    const { res, id, router, tableId, secretId, wakeId, t } = https;
    const statements = roleStatements(res, id(router.taskRole as never));
    const arn = (table: string) => ({ 'Fn::GetAtt': [table, 'Arn'] });
    const shape = statements.map((s) => ({ actions: list(s.Action).sort(), resource: s.Resource, condition: s.Condition }));
    expect(shape).toEqual([
      { actions: ['dynamodb:GetItem'], resource: arn(tableId('services')), condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'accountId', 'status', 'tokenSha256', 'replicaIds', 'desired', 'targetInflight', 'replicas'] }, StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' } } },
      { actions: ['dynamodb:UpdateItem'], resource: arn(tableId('services')), condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'load'] }, StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } } },
      { actions: ['dynamodb:BatchGetItem'], resource: arn(tableId('jobs')), condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'status', 'liveAttemptId', 'attempts'] }, StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' } } },
      { actions: ['dynamodb:BatchGetItem'], resource: arn(tableId('nodes')), condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'location'] }, StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' } } },
      { actions: ['dynamodb:GetItem'], resource: arn(tableId('keys')), condition: undefined },
      { actions: ['dynamodb:UpdateItem'], resource: arn(tableId('keys')), condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'lastUsedAt'] }, StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } } },
      { actions: ['secretsmanager:GetSecretValue'], resource: { Ref: secretId }, condition: undefined },
      // the services' wake queue: send only
      { actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], resource: { 'Fn::GetAtt': [wakeId, 'Arn'] }, condition: undefined },
    ]);
    t.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: Match.arrayWith([Match.objectLike({ Environment: Match.arrayWith([{ Name: 'SERVICES_WAKE_QUEUE_URL', Value: { Ref: wakeId } }]) })]) });
    // no index, no other table, no wildcard
    expect(JSON.stringify(statements)).not.toMatch(/index\/|\*"/);
  });

  it('is cdk-nag AwsSolutions clean (each acknowledgement with a reason), both ways', () => {
    // the router's constructs (the test's own secret stands in for the checker's, acknowledged there)
    expect(nagErrors(https.app, https.router)).toEqual([]);
    expect(nagErrors(plain.app, plain.router)).toEqual([]);
  });

  it('cfn-lint finds no errors in either template', () => {
    for (const s of [https, plain]) {
      const file = path.join(s.outdir, 'router.template.json');
      writeFileSync(file, JSON.stringify(s.t.toJSON()));
      const r = cfnLint([file]);
      expect(r.status! & 2, r.stdout + r.stderr).toBe(0);
    }
  });
});

describe('routing tier image and settings', () => {
  it('bundles the router into the build context with its Dockerfile; the bundle runs and names what it misses', () => {
    const dir = imageContext(true);
    expect(readFileSync(path.join(dir, 'Dockerfile'), 'utf8')).toMatch(/^FROM public\.ecr\.aws\/docker\/library\/node:22-alpine$/m);
    expect(existsSync(path.join(dir, 'gpupool-router.mjs'))).toBe(true);
    const r = spawnSync(process.execPath, [path.join(dir, 'gpupool-router.mjs')], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('missing env TABLE_SERVICES');
  });

  it('reads cdk.json’s switch: off by default, true, or an object; bad values are refused', () => {
    expect(parseRouterSettings(undefined).enabled).toBe(false);
    expect(parseRouterSettings(false).enabled).toBe(false);
    expect(parseRouterSettings(true)).toEqual({ enabled: true, desiredCount: 2 });
    expect(() => parseRouterSettings({ enabled: true, certificateArn: 'nope' })).toThrow(/certificateArn/);
    expect(() => parseRouterSettings({ enabled: true, hostedZoneId: 'Z123' })).toThrow(/hostedZoneName/);
    expect(() => parseRouterSettings({ enabled: true, extra: 1 })).toThrow();
  });

  it("gives the control plane the services' address when the operator names a domain, and none otherwise", () => {
    expect(servicesBaseUrl(parseRouterSettings(undefined))).toBe('');
    expect(servicesBaseUrl(parseRouterSettings(true))).toBe('');
    expect(servicesBaseUrl(parseRouterSettings({ enabled: false, servicesDomain: 'svc.example.com' }))).toBe('');
    expect(servicesBaseUrl(parseRouterSettings({ enabled: true, servicesDomain: 'svc.example.com' }))).toBe('http://svc.example.com');
    const cert = 'arn:aws:acm:eu-west-1:123456789012:certificate/abc-123';
    expect(servicesBaseUrl(parseRouterSettings({ enabled: true, servicesDomain: 'svc.example.com', certificateArn: cert }))).toBe('https://svc.example.com');
    const { cp } = synthStages({ servicesBaseUrl: 'https://svc.example.com' });
    const fns = Object.values(Template.fromStack(cp).findResources('AWS::Lambda::Function')).filter((f: any) => f.Properties.Environment?.Variables?.GPUPOOL_STAGE);
    expect(fns.length).toBeGreaterThan(3);
    for (const f of fns) expect((f as any).Properties.Environment.Variables.SERVICES_BASE_URL).toBe('https://svc.example.com');
  });
});
