// The burst construct as synthesized: the schedule, the IAM boundary (launch only the stack's shape,
// terminate only its own instances, pass only its instance role), the instance profile, and cdk-nag.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBurstSettings } from '../../functions/domain/burst/settings';
import { Burst } from '../../lib/constructs/burst';
import { GpupoolTables } from '../../lib/constructs/tables';
import { list, nagErrors, roleStatements } from './cdk-helpers';

const settings = parseBurstSettings({
  enabled: true,
  instanceTypes: [
    { instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus: 1, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 1.006 },
    { instanceType: 'p4d.24xlarge', gpuModel: 'A100', gpus: 8, vramGb: 40, pricePerGpuHour: 4_000_000, costPerHourUsd: 32.77 },
  ],
  rateMinutes: 2,
});

let outdir: string;
let app: App;
let stack: Stack;
let burst: Burst;
let t: Template;
let res: Record<string, any>;
beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'gpupool-burst-cdk-'));
  app = new App({ outdir });
  stack = new Stack(app, 'BurstTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const tables = new GpupoolTables(stack, 'Tables').refs;
  burst = new Burst(stack, 'Burst', { settings, stage: 'test', tables, apiUrl: 'https://api.example.com/test/', environment: { GPUPOOL_STAGE: 'test' }, nodeQueuePrefix: 'gpupool-test-node-', logRetentionDays: 30 });
  t = Template.fromStack(stack);
  res = t.toJSON().Resources;
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
const fnStatements = (): any[] => roleStatements(res, id(burst.fn.role));
const withAction = (a: string) => fnStatements().filter((s) => list(s.Action).includes(a));

describe('burst construct', () => {
  it('runs the burst function on its schedule, without retries', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(2 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id(burst.fn.fn), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 120 } })],
    });
    const env = res[id(burst.fn.fn)].Properties.Environment.Variables;
    expect(JSON.parse(env.BURST_SETTINGS)).toMatchObject({ enabled: true, instanceTypes: [{ instanceType: 'g5.xlarge' }, { instanceType: 'p4d.24xlarge' }] });
    expect(env.BURST_API_URL).toBe('https://api.example.com/test/');
    expect(res[id(burst.fn.fn)].Properties.Timeout).toBe(60);
  });

  it('launches only the stack’s shape: tag, instance types, its profile, IMDSv2, encrypted volumes, its network, Amazon images', () => {
    const run = withAction('ec2:RunInstances');
    const onInstance = run.find((s) => JSON.stringify(s.Resource).includes('instance/*'));
    expect(onInstance.Condition.StringEquals).toEqual({
      'aws:RequestTag/gpupool:burst': 'test',
      'ec2:InstanceType': ['g5.xlarge', 'p4d.24xlarge'],
      'ec2:InstanceProfile': { 'Fn::GetAtt': [id(burst.instanceProfile as never), 'Arn'] },
      'ec2:MetadataHttpTokens': 'required',
    });
    const onVolume = run.find((s) => JSON.stringify(s.Resource).includes('volume/*'));
    expect(onVolume.Condition).toEqual({ Bool: { 'ec2:Encrypted': 'true' }, StringEquals: { 'aws:RequestTag/gpupool:burst': 'test' } });
    const onImage = run.find((s) => JSON.stringify(s.Resource).includes('image/*'));
    expect(onImage.Condition).toEqual({ StringEquals: { 'ec2:Owner': 'amazon' } });
    const network = run.find((s) => JSON.stringify(s.Resource).includes('subnet/'));
    // the stack's own subnets and security group, never subnet/* or security-group/*
    expect(JSON.stringify(network.Resource)).not.toMatch(/subnet\/\*|security-group\/\*/);
    expect(run).toHaveLength(4);
  });

  it('terminates only instances tagged by the stack; tags only at launch', () => {
    const [term] = withAction('ec2:TerminateInstances');
    expect(list(term.Action)).toEqual(['ec2:TerminateInstances']);
    expect(term.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/gpupool:burst': 'test' } });
    const [tag] = withAction('ec2:CreateTags');
    expect(tag.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': 'RunInstances' } });
  });

  it('passes only its instance role, to EC2 only; reads only the AMI parameter', () => {
    const pass = withAction('iam:PassRole');
    expect(pass).toHaveLength(1);
    expect(pass[0].Resource).toEqual({ 'Fn::GetAtt': [id(burst.instanceRole), 'Arn'] });
    expect(pass[0].Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    const [ssm] = withAction('ssm:GetParameter');
    expect(JSON.stringify(ssm.Resource)).toContain(`parameter${settings.amiParameter}`);
    // no other EC2 or IAM action than these
    const ec2Actions = new Set(fnStatements().flatMap((s) => list(s.Action)).filter((a: string) => /^(ec2|iam):/.test(a)));
    expect([...ec2Actions].sort()).toEqual(['ec2:CreateTags', 'ec2:DescribeInstances', 'ec2:RunInstances', 'ec2:TerminateInstances', 'iam:PassRole']);
  });

  it('gives instances a profile whose role has no permissions', () => {
    t.resourceCountIs('AWS::IAM::InstanceProfile', 1);
    const roleId = id(burst.instanceRole);
    const attached = Object.values(res).filter((r: any) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(roleId));
    expect(attached).toEqual([]);
    expect(res[roleId].Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged error', () => {
    expect(nagErrors(app)).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });
});
