// The services' routing tier on AWS (docs/services.md, AWS): gpupool-router (bin/gpupool-router.ts) on ECS
// Fargate (arm64, 0.25 vCPU / 0.5 GB, two tasks across two AZs) behind an internet-facing ALB. Requests
// for services never pass through Lambda or API Gateway: no 29 s limit, no 6 MB payload limit, streaming
// both ways, and no per-request price beyond the ALB's LCUs.
//
// Network: a VPC of two public subnets and no NAT gateway. The router must reach nodes anywhere on the
// internet (strangers' hosts), so its tasks need internet egress in any case; a public IP per task
// ($0.005/h) is far cheaper than a NAT gateway (~$0.045/h per AZ plus $0.045/GB) or the four interface
// endpoints ECR, logs and Secrets Manager would need without one (~$0.01/h each per AZ). DynamoDB goes
// through a gateway endpoint (free). Inbound, tasks take only the ALB's traffic on the router port.
//
// Image: a Node 22 base image from ECR Public plus the router bundled by esbuild at synth. `cdk synth`
// only stages the build context (a Dockerfile and one .mjs file) into cdk.out; Docker builds and pushes
// the image at deploy (cdk-assets), so synth stays offline and needs no Docker.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53targets from 'aws-cdk-lib/aws-route53-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ROUTER_ENV } from '../../functions/router/router-env';
import { ESM_REQUIRE_BANNER, REPO_ROOT } from '../../scripts/build-agent';
import type { RouterSettings } from '../router-settings';
import { retentionDays } from './node-function';
import type { TableRefs } from './tables';

export interface ServiceRouterProps {
  readonly settings: RouterSettings;
  readonly tables: TableRefs;
  /** the control plane's signing seed (lib/constructs/checker.ts): route passes are signed with it */
  readonly signingSecret: secretsmanager.ISecret;
  readonly stage: string;
  readonly logRetentionDays: number;
  /** the services' wake queue (WakeQueue, lib/constructs/wake-queue.ts): without it a scale-up waits for the tick */
  readonly wakeQueue?: sqs.IQueue;
}

/** The port the router listens on inside its task. */
export const ROUTER_PORT = 8080;
/** The ALB's idle timeout: a model may think for a while before its first byte; the router waits 120 s for headers. */
export const ROUTER_IDLE_TIMEOUT_SECONDS = 180;

const DOCKERFILE = `# gpupool-router: built by cdk-assets at deploy (lib/constructs/service-router.ts)
FROM public.ecr.aws/docker/library/node:22-alpine
WORKDIR /app
COPY gpupool-router.mjs /app/gpupool-router.mjs
USER node
EXPOSE ${ROUTER_PORT}
CMD ["node", "/app/gpupool-router.mjs"]
`;

/** The image's build context: the Dockerfile and the router bundled for Node (a stub when the stack is not bundled). */
export function imageContext(bundle: boolean): string {
  let code = '// bundling skipped for this synth\n';
  if (bundle) {
    // esbuild's synchronous API (a construct cannot await); the same options as the agent's bundle
    const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
    const out = buildSync({
      absWorkingDir: REPO_ROOT,
      entryPoints: [path.join(REPO_ROOT, 'bin/gpupool-router.ts')],
      bundle: true,
      write: false,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      mainFields: ['module', 'main'],
      minify: true,
      legalComments: 'none',
      banner: { js: ESM_REQUIRE_BANNER },
      logLevel: 'warning',
    });
    code = out.outputFiles[0].text;
  }
  // a directory named by its content: the asset hash (and so the image tag) changes only when the code does
  const dir = path.join(tmpdir(), `gpupool-router-image-${createHash('sha256').update(DOCKERFILE).update(code).digest('hex').slice(0, 16)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
  writeFileSync(path.join(dir, 'gpupool-router.mjs'), code);
  return dir;
}

export class ServiceRouter extends Construct {
  public readonly vpc: ec2.Vpc;
  public readonly service: ecs.FargateService;
  public readonly taskRole: iam.Role;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** where services answer: `<base>/s/<serviceId>/…` (settings.services.baseUrl) */
  public readonly baseUrl: string;

  constructor(scope: Construct, id: string, props: ServiceRouterProps) {
    super(scope, id);
    const { settings, tables } = props;
    const stack = Stack.of(this);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: { DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
    });
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: retentionDays(props.logRetentionDays), removalPolicy: RemovalPolicy.DESTROY });
    // rejected packets only: who knocks on the tasks is worth keeping, every accepted flow is not
    this.vpc.addFlowLog('Rejected', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.REJECT });

    const albSg = new ec2.SecurityGroup(this, 'AlbSg', { vpc: this.vpc, description: 'gpupool-router ALB: public HTTP(S)', allowAllOutbound: false });
    const taskSg = new ec2.SecurityGroup(this, 'TaskSg', {
      vpc: this.vpc,
      description: 'gpupool-router tasks: the ALB in; out to nodes anywhere and AWS endpoints',
      // nodes are hosts on the internet listening on ports of their choosing
      allowAllOutbound: true,
    });
    taskSg.addIngressRule(albSg, ec2.Port.tcp(ROUTER_PORT), 'the ALB only');
    albSg.addEgressRule(taskSg, ec2.Port.tcp(ROUTER_PORT), 'to the router tasks');
    const https = !!settings.certificateArn;
    albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), https ? 'HTTP, redirected to HTTPS' : 'HTTP (no certificate configured)');
    if (https) albSg.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS');

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: this.vpc, containerInsightsV2: ecs.ContainerInsights.DISABLED });

    const taskDef = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.taskRole = taskDef.taskRole as iam.Role;
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: retentionDays(props.logRetentionDays), removalPolicy: RemovalPolicy.DESTROY });
    const image = ecs.ContainerImage.fromAsset(imageContext(stack.bundlingRequired), { platform: Platform.LINUX_ARM64 });
    taskDef.addContainer('router', {
      image,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'router' }),
      portMappings: [{ containerPort: ROUTER_PORT }],
      readonlyRootFilesystem: true,
      environment: {
        [ROUTER_ENV.services]: tables.services.table.tableName,
        [ROUTER_ENV.jobs]: tables.jobs.table.tableName,
        [ROUTER_ENV.nodes]: tables.nodes.table.tableName,
        [ROUTER_ENV.keys]: tables.keys.table.tableName,
        [ROUTER_ENV.signingSecretArn]: props.signingSecret.secretArn,
        [ROUTER_ENV.port]: String(ROUTER_PORT),
        AWS_REGION: stack.region,
        ...(settings.location ? { [ROUTER_ENV.location]: settings.location } : {}),
        ...(settings.servicesDomain ? { [ROUTER_ENV.servicesDomain]: settings.servicesDomain } : {}),
        ...(props.wakeQueue ? { [ROUTER_ENV.wakeQueueUrl]: props.wakeQueue.queueUrl } : {}),
      },
    });
    this.grantRouter(props);

    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: taskDef,
      desiredCount: settings.desiredCount,
      assignPublicIp: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [taskSg],
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: this.vpc,
      internetFacing: true,
      securityGroup: albSg,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      idleTimeout: Duration.seconds(ROUTER_IDLE_TIMEOUT_SECONDS),
      dropInvalidHeaderFields: true,
    });
    const targets = {
      port: ROUTER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: { path: '/healthz', interval: Duration.seconds(10), healthyThresholdCount: 2, unhealthyThresholdCount: 2 },
      // a task being replaced finishes the streams it carries
      deregistrationDelay: Duration.seconds(ROUTER_IDLE_TIMEOUT_SECONDS),
    };
    const listeners: elbv2.ApplicationListener[] = [];
    if (https) {
      const certificate = acm.Certificate.fromCertificateArn(this, 'Certificate', settings.certificateArn!);
      const listener = this.loadBalancer.addListener('Https', { port: 443, protocol: elbv2.ApplicationProtocol.HTTPS, certificates: [certificate], sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS, open: false });
      listener.addTargets('Router', targets);
      listeners.push(listener, this.loadBalancer.addRedirect({ sourcePort: 80, sourceProtocol: elbv2.ApplicationProtocol.HTTP, targetPort: 443, targetProtocol: elbv2.ApplicationProtocol.HTTPS }));
    } else {
      const listener = this.loadBalancer.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
      listener.addTargets('Router', targets);
      listeners.push(listener);
    }
    // the app's stage tag reaches listeners too, but cfn-lint's resource schema has no Tags on a listener
    for (const l of listeners) (l.node.defaultChild as elbv2.CfnListener).addPropertyDeletionOverride('Tags');

    if (settings.hostedZoneId) {
      const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: settings.hostedZoneId, zoneName: settings.hostedZoneName! });
      const target = route53.RecordTarget.fromAlias(new route53targets.LoadBalancerTarget(this.loadBalancer));
      new route53.ARecord(this, 'Wildcard', { zone, recordName: `*.${settings.servicesDomain}`, target });
      new route53.ARecord(this, 'Apex', { zone, recordName: settings.servicesDomain!, target });
    }

    const scheme = https ? 'https' : 'http';
    this.baseUrl = settings.servicesDomain && settings.hostedZoneId ? `${scheme}://${settings.servicesDomain}` : `${scheme}://${this.loadBalancer.loadBalancerDnsName}`;
    new CfnOutput(this, 'BaseUrl', { value: this.baseUrl, description: 'services answer at <BaseUrl>/s/<serviceId>/ (settings.services.baseUrl)' });

    this.acknowledgeFindings();
  }

  /**
   * Exactly what the router does: read a service (its routing fields), its replica jobs (their attempts)
   * and their nodes (location), resolve an API key as the authorizer does (and note its last use), set its
   * own entry of the service's `load` map, and read the signing seed. Reads of services, jobs and nodes
   * are limited to the attributes it projects, so a compromised router cannot read a service's or job's
   * env, command or secrets references.
   */
  private grantRouter(props: ServiceRouterProps): void {
    const { tables } = props;
    const attrs = (names: string[]) => ({ 'ForAllValues:StringEquals': { 'dynamodb:Attributes': names }, StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' } });
    const writeAttrs = (names: string[]) => ({ 'ForAllValues:StringEquals': { 'dynamodb:Attributes': names }, StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } });
    const statements = [
      new iam.PolicyStatement({
        sid: 'ReadServiceRoute',
        actions: ['dynamodb:GetItem'],
        resources: [tables.services.table.tableArn],
        conditions: attrs(['id', 'accountId', 'status', 'tokenSha256', 'replicaIds', 'desired', 'targetInflight', 'replicas']),
      }),
      new iam.PolicyStatement({ sid: 'WriteOwnLoad', actions: ['dynamodb:UpdateItem'], resources: [tables.services.table.tableArn], conditions: writeAttrs(['id', 'load']) }),
      new iam.PolicyStatement({ sid: 'ReadReplicaJobs', actions: ['dynamodb:BatchGetItem'], resources: [tables.jobs.table.tableArn], conditions: attrs(['id', 'status', 'liveAttemptId', 'attempts']) }),
      new iam.PolicyStatement({ sid: 'ReadNodeLocations', actions: ['dynamodb:BatchGetItem'], resources: [tables.nodes.table.tableArn], conditions: attrs(['id', 'location']) }),
      // the authorizer's lookup reads the whole key record (hash, revocation) and notes lastUsedAt once a minute
      new iam.PolicyStatement({ sid: 'ResolveApiKey', actions: ['dynamodb:GetItem'], resources: [tables.keys.table.tableArn] }),
      new iam.PolicyStatement({ sid: 'NoteKeyUse', actions: ['dynamodb:UpdateItem'], resources: [tables.keys.table.tableArn], conditions: writeAttrs(['id', 'lastUsedAt']) }),
      new iam.PolicyStatement({ sid: 'SigningSeed', actions: ['secretsmanager:GetSecretValue'], resources: [props.signingSecret.secretArn] }),
    ];
    for (const s of statements) this.taskRole.addToPrincipalPolicy(s);
    // a service loaded beyond its replicas: the reconcile is asked for at once (lib/constructs/wake-queue.ts)
    props.wakeQueue?.grantSendMessages(this.taskRole);
  }

  private acknowledgeFindings(): void {
    Validations.of(this.loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason:
        'No ALB access logs by default: they would keep every caller IP and path of every inference request in S3; the router logs each refused or failed forward, and the ALB and target group metrics count requests and errors. An operator who needs per-request logs turns them on with a bucket of their choosing.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: "The ALB is the services' public address: it must accept connections from any IPv4 address on 80/443. The tasks' security group admits only the ALB.",
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The environment holds table names, the signing secret ARN (not its value, read at start with GetSecretValue), the port, the location and the services domain: nothing secret.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-ECS4',
      reason: 'Container Insights adds custom metrics per task for a two-task stateless service; the ECS service CPU/memory metrics and the ALB target metrics (requests, 5xx, latency, healthy hosts) cover it. Operators can enable it on the cluster.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: "ECS's task execution role: ecr:GetAuthorizationToken has no resource to scope it to (AWS requires `*`); the image pull and log writes are scoped to the asset repository and the router's log group by CDK.",
    });
  }
}
