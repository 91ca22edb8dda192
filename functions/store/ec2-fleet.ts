// EC2 and SSM behind the small port the burst use case needs. The AWS adapter builds the exact
// RunInstances request (tags, instance profile, IMDSv2 required, encrypted root volume, user data,
// ClientToken); the local stack's fake (lib/local/fake-ec2.ts) implements the same port.
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Ec2State } from '../domain/burst/lifecycle';
import { BURST_TAG } from '../domain/burst/tag';

/** The tag that marks every burst resource of a stage; the IAM policy allows termination only on it. */
export { BURST_TAG };
export const LAUNCH_TAG = 'gpupool:launch';

export interface LaunchRequest {
  /** idempotency: the same token never starts a second instance (EC2 keeps it for a while) */
  clientToken: string;
  launchId: string;
  stage: string;
  instanceType: string;
  market: 'spot' | 'on-demand';
  imageId: string;
  userData: string;
  subnetId?: string;
  securityGroupIds: string[];
  instanceProfileArn: string;
  rootVolumeGb: number;
}

export interface Ec2Instance {
  instanceId: string;
  launchId?: string;
  state: Ec2State;
}

export interface Ec2Port {
  /** the AMI id behind an SSM parameter */
  imageId(parameter: string): Promise<string>;
  run(req: LaunchRequest): Promise<{ instanceId: string }>;
  terminate(instanceIds: string[]): Promise<void>;
  /** every instance carrying the stage's burst tag, in any state */
  list(stage: string): Promise<Ec2Instance[]>;
}

/** EC2 had no spot (or on-demand) capacity for the type: the caller may fall back or wait. */
export class NoCapacityError extends Error {
  override name = 'NoCapacityError';
}
const CAPACITY_CODES = new Set(['InsufficientInstanceCapacity', 'SpotMaxPriceTooLow', 'MaxSpotInstanceCountExceeded', 'InsufficientCapacity', 'InsufficientHostCapacity']);

export function runInstancesInput(req: LaunchRequest): RunInstancesCommandInput {
  const tags = [
    { Key: BURST_TAG, Value: req.stage },
    { Key: LAUNCH_TAG, Value: req.launchId },
    { Key: 'Name', Value: `gpupool-${req.stage}-burst-${req.launchId}` },
  ];
  return {
    ClientToken: req.clientToken,
    ImageId: req.imageId,
    InstanceType: req.instanceType as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    IamInstanceProfile: { Arn: req.instanceProfileArn },
    // IMDSv2 only; hop limit 1 keeps containers (one hop further) away from the instance's metadata
    MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'disabled' },
    BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: req.rootVolumeGb, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
    UserData: Buffer.from(req.userData, 'utf8').toString('base64'),
    ...(req.subnetId ? { SubnetId: req.subnetId } : {}),
    ...(req.securityGroupIds.length ? { SecurityGroupIds: req.securityGroupIds } : {}),
    // a shutdown from inside (or a failed boot script that powers off) must not leave a stopped, billed volume
    InstanceInitiatedShutdownBehavior: 'terminate',
    ...(req.market === 'spot' ? { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } } } : {}),
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
  };
}

export class AwsEc2Fleet implements Ec2Port {
  private readonly images = new Map<string, string>();
  constructor(
    private readonly ec2: EC2Client = new EC2Client({}),
    private readonly ssm: SSMClient = new SSMClient({}),
  ) {}

  async imageId(parameter: string): Promise<string> {
    const cached = this.images.get(parameter);
    if (cached) return cached;
    const r = await this.ssm.send(new GetParameterCommand({ Name: parameter }));
    const id = r.Parameter?.Value;
    if (!id || !/^ami-[0-9a-f]+$/.test(id)) throw new Error(`SSM parameter ${parameter} holds no AMI id`);
    this.images.set(parameter, id);
    return id;
  }

  async run(req: LaunchRequest): Promise<{ instanceId: string }> {
    try {
      const r = await this.ec2.send(new RunInstancesCommand(runInstancesInput(req)));
      const id = r.Instances?.[0]?.InstanceId;
      if (!id) throw new Error('RunInstances answered without an instance');
      return { instanceId: id };
    } catch (e) {
      if (CAPACITY_CODES.has((e as Error).name)) throw new NoCapacityError((e as Error).message);
      throw e;
    }
  }

  async terminate(instanceIds: string[]): Promise<void> {
    if (instanceIds.length) await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
  }

  async list(stage: string): Promise<Ec2Instance[]> {
    const out: Ec2Instance[] = [];
    let token: string | undefined;
    do {
      const r = await this.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: `tag:${BURST_TAG}`, Values: [stage] }], NextToken: token }));
      for (const res of r.Reservations ?? []) {
        for (const i of res.Instances ?? []) {
          if (!i.InstanceId) continue;
          out.push({ instanceId: i.InstanceId, launchId: i.Tags?.find((t) => t.Key === LAUNCH_TAG)?.Value, state: (i.State?.Name ?? 'pending') as Ec2State });
        }
      }
      token = r.NextToken;
    } while (token);
    return out;
  }
}
