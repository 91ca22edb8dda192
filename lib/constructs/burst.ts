// Burst capacity on EC2 (docs/burst.md): the burst function on a schedule, the instance role and profile
// the instances run with, the network they launch into (given, or a small public VPC made here), and an
// IAM boundary that lets the function launch only what the stack allows and terminate only what it tagged.
import { ArnFormat, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { BurstSettings } from '../../functions/domain/burst/settings';
import type { TableId } from '../../functions/store/tables';
import { BURST_TAG } from '../../functions/domain/burst/tag';
import { scheduleNamed } from '../../functions/scheduled/schedules';

/** the schedule table's burst entry (functions/scheduled/schedules.ts): its handler and what it does */
const BURST_SCHEDULE = scheduleNamed('Burst');
import { NodeFunction } from './node-function';
import type { TableRefs } from './tables';

/** What the burst function may touch: it reads the backlog, keeps its records, issues tokens, drains and deregisters nodes. */
export const BURST_TABLE_GRANTS: Readonly<Partial<Record<TableId, 'read' | 'write'>>> = {
  burst: 'write',
  keys: 'write', // one-time registration tokens
  nodes: 'write', // drain, deregister
  jobs: 'write', // deregistration re-queues the node's attempts
  accounts: 'write', // the burst provider account; settlement of re-queued attempts
  ledger: 'write',
  governance: 'read', // the parameters in force, for those settlements
};

export interface BurstProps {
  readonly settings: BurstSettings;
  readonly stage: string;
  readonly tables: TableRefs;
  /** the API the instances' agents join */
  readonly apiUrl: string;
  /** the environment every gpupool function gets (heartbeats, deadlines, queue prefix) */
  readonly environment: Readonly<Record<string, string>>;
  readonly nodeQueuePrefix: string;
  readonly logRetentionDays: number;
  /** @default 512 */
  readonly memoryMb?: number;
}

export class Burst extends Construct {
  public readonly fn: NodeFunction;
  public readonly instanceRole: iam.Role;
  public readonly instanceProfile: iam.InstanceProfile;
  public readonly rule: events.Rule;
  public readonly vpc?: ec2.Vpc;
  public readonly securityGroup?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: BurstProps) {
    super(scope, id);
    const s = props.settings;
    if (!s.enabled || s.instanceTypes.length === 0) throw new Error(`${id}: burst needs enabled settings with instance types`);

    // the agent needs no AWS access: it speaks to the API with its keys. An empty role, for the profile.
    this.instanceRole = new iam.Role(this, 'InstanceRole', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'), description: `gpupool ${props.stage}: burst GPU instances (no permissions)` });
    this.instanceProfile = new iam.InstanceProfile(this, 'InstanceProfile', { role: this.instanceRole });

    let subnetIds = s.subnetIds;
    let securityGroupIds = s.securityGroupId ? [s.securityGroupId] : [];
    if (subnetIds.length === 0) {
      // public subnets, no NAT gateway (it would cost more than a small burst); inbound only the probe port
      this.vpc = new ec2.Vpc(this, 'Vpc', { natGateways: 0, maxAzs: 3, subnetConfiguration: [{ name: 'burst', subnetType: ec2.SubnetType.PUBLIC }] });
      this.vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention: props.logRetentionDays as logs.RetentionDays })) });
      subnetIds = this.vpc.publicSubnets.map((x) => x.subnetId);
    }
    if (securityGroupIds.length === 0) {
      if (!this.vpc) throw new Error(`${id}: securityGroupId is required with subnetIds`);
      this.securityGroup = new ec2.SecurityGroup(this, 'InstanceSg', { vpc: this.vpc, description: 'gpupool burst instances: the checker probes the agent', allowAllOutbound: true });
      this.securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(s.probePort), 'gpupool checker probes (signed, replay-proof)');
      Validations.of(this.securityGroup).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: 'The checker runs in Lambda without fixed addresses and must reach the agent probe port; probes are signed both ways and replay-proof (docs/checkers.md), and nothing else listens.',
      });
      securityGroupIds = [this.securityGroup.securityGroupId];
    }

    this.fn = new NodeFunction(this, 'Handler', {
      entry: BURST_SCHEDULE.entry,
      kind: 'scheduled',
      description: BURST_SCHEDULE.description,
      memoryMb: props.memoryMb,
      logRetentionDays: props.logRetentionDays,
      environment: {
        ...props.environment,
        BURST_SETTINGS: JSON.stringify(s),
        BURST_API_URL: props.apiUrl,
        BURST_INSTANCE_PROFILE_ARN: this.instanceProfile.instanceProfileArn,
        BURST_SUBNET_IDS: subnetIds.join(','),
        BURST_SECURITY_GROUP_IDS: securityGroupIds.join(','),
      },
    })
      .bindTables(props.tables, BURST_TABLE_GRANTS)
      .allowNodeQueues(props.nodeQueuePrefix, ['DeleteQueue', 'GetQueueUrl', 'SendMessage']);
    this.grantLaunch(s, props.stage, subnetIds, securityGroupIds);

    this.rule = new events.Rule(this, 'Schedule', {
      description: BURST_SCHEDULE.description,
      schedule: events.Schedule.rate(Duration.minutes(s.rateMinutes)),
      targets: [new targets.LambdaFunction(this.fn.fn, { retryAttempts: 0, maxEventAge: Duration.minutes(s.rateMinutes) })],
    });
  }

  /** The IAM boundary (docs/burst.md): launch only the stack's shape, terminate only its own instances. */
  private grantLaunch(s: BurstSettings, stage: string, subnetIds: string[], securityGroupIds: string[]) {
    const stack = Stack.of(this);
    const ec2Arn = (type: string, name: string) => stack.formatArn({ service: 'ec2', resource: type, resourceName: name, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const role = this.fn.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'LaunchOnlyTheStacksShape',
        actions: ['ec2:RunInstances'],
        resources: [ec2Arn('instance', '*')],
        conditions: {
          StringEquals: {
            [`aws:RequestTag/${BURST_TAG}`]: stage,
            'ec2:InstanceType': s.instanceTypes.map((t) => t.instanceType),
            'ec2:InstanceProfile': this.instanceProfile.instanceProfileArn,
            'ec2:MetadataHttpTokens': 'required',
          },
        },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'EncryptedTaggedVolumesOnly',
        actions: ['ec2:RunInstances'],
        resources: [ec2Arn('volume', '*')],
        conditions: { Bool: { 'ec2:Encrypted': 'true' }, StringEquals: { [`aws:RequestTag/${BURST_TAG}`]: stage } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'IntoTheStacksNetworkOnly',
        actions: ['ec2:RunInstances'],
        resources: [...subnetIds.map((x) => ec2Arn('subnet', x)), ...securityGroupIds.map((x) => ec2Arn('security-group', x)), ec2Arn('network-interface', '*'), ec2Arn('spot-instances-request', '*')],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AmazonImagesOnly',
        actions: ['ec2:RunInstances'],
        resources: [`arn:${stack.partition}:ec2:${stack.region}::image/*`],
        conditions: { StringEquals: { 'ec2:Owner': 'amazon' } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'TagAtLaunchOnly', actions: ['ec2:CreateTags'], resources: [ec2Arn('instance', '*'), ec2Arn('volume', '*'), ec2Arn('spot-instances-request', '*')], conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } } }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'TerminateOwnInstancesOnly', actions: ['ec2:TerminateInstances'], resources: [ec2Arn('instance', '*')], conditions: { StringEquals: { [`aws:ResourceTag/${BURST_TAG}`]: stage } } }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'DescribeInstances', actions: ['ec2:DescribeInstances'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadTheAmiParameter', actions: ['ssm:GetParameter'], resources: [`arn:${stack.partition}:ssm:${stack.region}::parameter${s.amiParameter}`] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'PassTheInstanceRoleOnly', actions: ['iam:PassRole'], resources: [this.instanceRole.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } }),
    );
    const part = (v: string, pseudo: string) => (Token.isUnresolved(v) ? `<${pseudo}>` : v);
    const nag = (type: string, account = true) =>
      `AwsSolutions-IAM5[Resource::arn:${part(stack.partition, 'AWS::Partition')}:ec2:${part(stack.region, 'AWS::Region')}:${account ? part(stack.account, 'AWS::AccountId') : ''}:${type}/*]`;
    const wildcards = [nag('instance'), nag('volume'), nag('network-interface'), nag('spot-instances-request'), nag('image', false), 'AwsSolutions-IAM5'];
    for (const findingId of wildcards) Validations.of(role).acknowledge({
      id: findingId,
      reason:
        'EC2 names instances, volumes, network interfaces and spot requests only at launch, so RunInstances, CreateTags and TerminateInstances take `<type>/*` bounded by conditions (request/resource tag of this stage, instance types, the instance profile, IMDSv2, encryption, CreateAction); DescribeInstances supports no resource-level permissions; AMIs are Amazon-owned images; per-node queues are known only by prefix.',
    });
  }
}
