// The burst tick against DynamoDB Local with EC2 and SSM mocked (aws-sdk-client-mock): the exact
// RunInstances request, idempotent launches, registration with a one-time token, idle retirement, a
// reclaimed spot instance, spot → on-demand fallback, and the limits and the daily budget under races.
import { DomainError } from '../../functions/domain/errors';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BurstInstance } from '../../functions/domain/burst/model';
import { parseBurstSettings } from '../../functions/domain/burst/settings';
import { parseUserData } from '../../functions/domain/burst/user-data';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { BurstStore, LimitError } from '../../functions/store/burst-store';
import { makeDocClient } from '../../functions/store/clients';
import { AwsEc2Fleet } from '../../functions/store/ec2-fleet';
import { burstTick } from '../../functions/usecases/burst';
import { BURST_ACCOUNT_ID, type BurstDeps } from '../../functions/usecases/burst-deps';
import { buildDeps, settingsFromEnv, type Deps } from '../../functions/usecases/deps';
import { submitJob } from '../../functions/usecases/jobs';
import { registerNode } from '../../functions/usecases/nodes';
import { updateNode } from '../../functions/usecases/node-writes';
import { startEngines, type Engines } from '../helpers/engines';

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);
const G5 = { instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus: 1, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 1.0, spotCostPerHourUsd: 0.5 };
const G5X4 = { instanceType: 'g5.12xlarge', gpuModel: 'A10G', gpus: 4, vramGb: 24, pricePerGpuHour: 1_500_000, costPerHourUsd: 5.0, spotCostPerHourUsd: 2.0 };
const PROFILE = 'arn:aws:iam::123456789012:instance-profile/gpupool-burst';

let engines: Engines;
let d: Deps;
let clock = 1_700_000_000_000;
let b: BurstDeps;
let failNext: Error | undefined;
let instances: { id: string; launchId: string; state: string }[];
const consumer = { accountId: 'c1', role: 'consumer' as const, keyId: 'k1' };

function burstDeps(over: Record<string, unknown> = {}): BurstDeps {
  const settings = parseBurstSettings({ enabled: true, instanceTypes: [G5, G5X4], maxInstances: 2, maxGpus: 5, dailyBudgetUsd: 20, waitSeconds: 0, idleMinutes: 10, ...over });
  return {
    d,
    store: new BurstStore(makeDocClient(engines.ddb), engines.tableNames.burst),
    ec2: new AwsEc2Fleet(new EC2Client({ region: 'us-east-1' }), new SSMClient({ region: 'us-east-1' })),
    run: { settings, stage: 'test', apiUrl: 'https://api.example.com', instanceProfileArn: PROFILE, subnetIds: ['subnet-0a'], securityGroupIds: ['sg-0b'], burstAccountId: BURST_ACCOUNT_ID },
  };
}

beforeAll(async () => {
  engines = await startEngines();
});
afterAll(() => engines.stop());

beforeEach(async () => {
  // fresh tables per test (the limits and budget counters are global to a table); the JVM stays up
  // 06:00 UTC: a test's hours never cross into the next budget day
  clock = Date.UTC(2023, 10, 14, 6);
  const old = engines;
  engines = await startEngines();
  await old.stop();
  d = { ...buildDeps({ db: makeDocClient(engines.ddb), sqs: engines.sqs, tables: engines.tableNames, settings: settingsFromEnv({}) }), now: () => clock };
  b = burstDeps();
  instances = [];
  ec2Mock.reset();
  ssmMock.reset();
  ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0123456789abcdef0' } });
  let n = 0;
  failNext = undefined;
  ec2Mock.on(RunInstancesCommand).callsFake((input) => {
    if (failNext) {
      const e = failNext;
      failNext = undefined;
      throw e;
    }
    const launchId = input.TagSpecifications[0].Tags.find((t: { Key: string }) => t.Key === 'gpupool:launch').Value;
    const id = `i-${String(++n).padStart(8, '0')}`;
    instances.push({ id, launchId, state: 'pending' });
    return { Instances: [{ InstanceId: id }] };
  });
  ec2Mock.on(DescribeInstancesCommand).callsFake(() => ({
    Reservations: [{ Instances: instances.map((i) => ({ InstanceId: i.id, State: { Name: i.state }, Tags: [{ Key: 'gpupool:launch', Value: i.launchId }] })) }],
  }));
  ec2Mock.on(TerminateInstancesCommand).callsFake((input) => {
    for (const i of instances) if (input.InstanceIds.includes(i.id)) i.state = 'shutting-down';
    return {};
  });
});

const waiting = (gpus = 1) => submitJob(d, consumer, SubmitJobSchema.parse({ command: ['true'], resources: { gpus, gpuModels: ['A10G'] } }));
const records = async () => (await b.store.all()).sort((x, y) => x.createdAt - y.createdAt);
const userDataOf = (call: number) => parseUserData(Buffer.from(ec2Mock.commandCalls(RunInstancesCommand)[call].args[0].input.UserData!, 'base64').toString('utf8'));

/** Registers the instance's agent as it would: with the token from its user data, as the authorizer resolves it. */
async function register(call = 0) {
  const ud = userDataOf(call);
  const caller = await d.keys.resolve(ud.GPUPOOL_PROVIDER_KEY, clock);
  // the authorizer's refusal of a spent or expired token: a 401, as the use case's own refusal is
  if (!caller) throw new DomainError('unauthorized', 'token did not resolve');
  return registerNode(d, caller, { name: ud.GPUPOOL_NODE_NAME, region: ud.GPUPOOL_REGION, gpus: [{ index: 0, uuid: 'GPU-1', model: 'A10G', vramGb: 24 }], pricePerGpuHour: 1_500_000, labels: {} } as never);
}

describe('burst tick', () => {
  it('launches the cheapest fitting type for a backlog no node fits, with the exact RunInstances request', async () => {
    const job = await waiting(1);
    expect(job.pendingReason).toMatch(/no nodes with free capacity/);
    const r = await burstTick(b);
    expect(r.launched).toBe(1);
    const [rec] = await records();
    expect(rec).toMatchObject({ state: 'booting', instanceType: 'g5.xlarge', market: 'spot', instanceId: 'i-00000001', jobIds: [job.id], hourlyCostUsd: 0.5 });
    expect(rec.reason).toContain(job.id);
    expect(ec2Mock).toHaveReceivedCommandTimes(RunInstancesCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(RunInstancesCommand, {
      ClientToken: rec.id,
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 'g5.xlarge',
      MinCount: 1,
      MaxCount: 1,
      IamInstanceProfile: { Arn: PROFILE },
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1, InstanceMetadataTags: 'disabled' },
      BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: 200, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
      SubnetId: 'subnet-0a',
      SecurityGroupIds: ['sg-0b'],
      InstanceInitiatedShutdownBehavior: 'terminate',
      InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } },
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [{ Key: 'gpupool:burst', Value: 'test' }, { Key: 'gpupool:launch', Value: rec.id }, { Key: 'Name', Value: `gpupool-test-burst-${rec.id}` }] },
        { ResourceType: 'volume', Tags: [{ Key: 'gpupool:burst', Value: 'test' }, { Key: 'gpupool:launch', Value: rec.id }, { Key: 'Name', Value: `gpupool-test-burst-${rec.id}` }] },
      ],
    });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: expect.stringContaining('/aws/service/deeplearning/') });
    // user data: the install script from the API, a token of the burst provider, the node's name and settings
    const script = Buffer.from(ec2Mock.commandCalls(RunInstancesCommand)[0].args[0].input.UserData!, 'base64').toString('utf8');
    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain('curl -fsS --retry 10 --retry-connrefused "$GPUPOOL_API_URL/install.sh"');
    expect(script).toContain('systemctl daemon-reload && systemctl enable --now gpupool-agent.service');
    const ud = userDataOf(0);
    expect(ud).toMatchObject({ GPUPOOL_API_URL: 'https://api.example.com', GPUPOOL_NODE_NAME: `burst-${rec.id}`, GPUPOOL_REGION: 'aws', GPUPOOL_PRICE_PER_GPU_HOUR: '1500000', GPUPOOL_SPOT_WATCH: '1' });
    expect(ud.GPUPOOL_LABELS).toBe('gpupool.burst=true,ec2.instanceType=g5.xlarge');
    expect(await d.keys.resolve(ud.GPUPOOL_PROVIDER_KEY, clock)).toMatchObject({ accountId: BURST_ACCOUNT_ID, role: 'provider', keyId: rec.tokenKeyId });
  });

  it('does not launch twice for one backlog: the booting instance counts', async () => {
    await waiting(1);
    await burstTick(b);
    clock += 30_000;
    await burstTick(b);
    expect(ec2Mock).toHaveReceivedCommandTimes(RunInstancesCommand, 1);
    expect(await records()).toHaveLength(1);
  });

  it('a lost RunInstances answer is retried with the same ClientToken', async () => {
    await waiting(1);
    failNext = Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    await burstTick(b);
    const [first] = await records();
    expect(first.state).toBe('launching');
    clock += 61_000;
    await burstTick(b);
    const calls = ec2Mock.commandCalls(RunInstancesCommand);
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.args[0].input.ClientToken)).toEqual([first.id, first.id]);
    expect((await records())[0]).toMatchObject({ state: 'booting', instanceId: 'i-00000001' });
  });

  it('falls back to on-demand when spot has no capacity, under its own ClientToken', async () => {
    await waiting(1);
    ec2Mock.on(RunInstancesCommand, { InstanceMarketOptions: { MarketType: 'spot' } }).rejects(Object.assign(new Error('no spot'), { name: 'InsufficientInstanceCapacity' }));
    await burstTick(b);
    const [rec] = await records();
    const calls = ec2Mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => [c.ClientToken, c.InstanceMarketOptions?.MarketType ?? 'on-demand'])).toEqual([[rec.id, 'spot'], [`${rec.id}-od`, 'on-demand']]);
    expect(rec).toMatchObject({ state: 'booting', market: 'on-demand', hourlyCostUsd: 1.0 });
  });

  it('the registration token makes exactly one node, however many agents race with it; then it is dead', async () => {
    await waiting(1);
    await burstTick(b);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => register()));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.code === 'unauthorized')).toBe(true);
    expect((await d.nodes.listByProvider(BURST_ACCOUNT_ID, 100)).items).toHaveLength(1);
    expect(await d.keys.resolve(userDataOf(0).GPUPOOL_PROVIDER_KEY, clock)).toBeUndefined();
    // registered but not yet in session (OFFLINE): still counted as coming capacity, so no second launch
    expect((await burstTick(b)).launched).toBe(0);
    expect((await records())[0]).toMatchObject({ state: 'running', nodeId: (await d.nodes.listByProvider(BURST_ACCOUNT_ID, 1)).items[0].id });
  });

  it('an expired token registers nothing', async () => {
    await waiting(1);
    await burstTick(b);
    clock += 31 * 60_000;
    await expect(register()).rejects.toThrow(/did not resolve/);
  });

  it('drains and terminates an instance idle past the timeout, deregisters its node and frees the limits', async () => {
    await waiting(1);
    await burstTick(b);
    const { node } = await register();
    await updateNode(d, node.id, (n) => ({ ...n, status: 'ONLINE', lastSeenAt: clock, heartbeatSeconds: 3600 }));
    // the job is gone (cancelled by its owner, say): nothing waits any more
    for (const j of (await d.jobs.listByAccount('c1', 10)).items) await d.jobs.apply(j, { job: { ...j, status: 'CANCELLED', version: j.version + 1 }, effects: [] }, {});
    await burstTick(b); // links the node
    await burstTick(b); // idle since now
    clock += 9 * 60_000;
    expect((await burstTick(b)).drained).toBe(0);
    clock += 2 * 60_000;
    expect((await burstTick(b)).drained).toBe(1);
    expect((await d.nodes.get(node.id))!.status).toBe('DRAINING');
    expect((await burstTick(b)).terminated).toBe(1);
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-00000001'] });
    expect((await d.nodes.get(node.id))!.status).toBe('DEREGISTERED');
    instances[0].state = 'terminated';
    expect((await burstTick(b)).ended).toBe(1);
    expect((await records())[0]).toMatchObject({ state: 'terminated', stateReason: 'idle for 10 min' });
    // the reservation is back: two new instances fit under maxInstances 2
    await waiting(1);
    await waiting(4);
    expect((await burstTick(b)).launched).toBe(2);
  });

  it('a reclaimed spot instance: its node is deregistered (attempts re-placed) and the record ends', async () => {
    await waiting(1);
    await burstTick(b);
    const { node } = await register();
    await burstTick(b);
    instances[0].state = 'terminated';
    await burstTick(b);
    expect((await d.nodes.get(node.id))!.status).toBe('DEREGISTERED');
    expect((await records()).find((x) => x.instanceId === 'i-00000001')).toMatchObject({ state: 'terminated', stateReason: 'instance terminated' });
  });

  it('terminates an instance whose agent never registers within the boot timeout', async () => {
    await waiting(1);
    await burstTick(b);
    clock += 21 * 60_000;
    expect((await burstTick(b)).terminated).toBe(1);
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-00000001'] });
  });

  it('retires an instance when the next hour would pass the daily budget', async () => {
    b = burstDeps({ dailyBudgetUsd: 1.2 });
    await waiting(1);
    await burstTick(b); // first hour: 0.5
    await register();
    clock += 61 * 60_000; // second hour: 1.0 ≤ 1.2
    expect((await burstTick(b)).terminated).toBe(0);
    clock += 60 * 60_000; // third: 1.5 > 1.2
    const r = await burstTick(b);
    expect(r.terminated, JSON.stringify(await records())).toBe(1);
    expect((await records()).find((x) => x.instanceId === 'i-00000001')).toMatchObject({ state: 'terminating', stateReason: 'daily budget reached' });
  });
});

describe('limits under races', () => {
  const rec = (i: number, gpus = 1, cost = 1): BurstInstance => ({
    id: `race-${i}`, instanceType: 'g5.xlarge', gpuModel: 'A10G', gpus, market: 'spot', hourlyCostUsd: cost, state: 'launching', reason: 'race', jobIds: [], createdAt: clock, launchedAt: clock, version: 1,
  });
  const race = (limits: { maxInstances: number; maxGpus: number; dailyBudgetUsd: number }, gpus = 1, cost = 1) =>
    Promise.allSettled(Array.from({ length: 20 }, (_, i) => b.store.reserveLaunch(rec(i, gpus, cost), limits, clock)));

  it('20 concurrent launches under maxInstances 3 → exactly 3', async () => {
    const out = await race({ maxInstances: 3, maxGpus: 100, dailyBudgetUsd: 100 });
    expect(out.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(out.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof LimitError)).toBe(true);
    expect(await b.store.all()).toHaveLength(3);
  });

  it('20 concurrent 4-GPU launches under maxGpus 10 → exactly 2', async () => {
    const out = await race({ maxInstances: 100, maxGpus: 10, dailyBudgetUsd: 100 }, 4);
    expect(out.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
  });

  it('20 concurrent launches under a $5 budget at $2 an hour → exactly 2, and the day counter says $4', async () => {
    const out = await race({ maxInstances: 100, maxGpus: 100, dailyBudgetUsd: 5 }, 1, 2);
    expect(out.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect(await b.store.committedTodayUsd(clock)).toBe(4);
  });

  it('20 concurrent ticks launch once for one backlog', async () => {
    await waiting(1);
    await Promise.all(Array.from({ length: 20 }, () => burstTick(b)));
    expect(ec2Mock).toHaveReceivedCommandTimes(RunInstancesCommand, 1);
  });
});
