// The one way gpupool builds a Lambda function: Node 22 on arm64, an ESM bundle with the AWS SDK
// inside (cold start ~240 ms instead of ~675 ms with the runtime's SDK), minified, with source maps,
// an explicit log group with retention, and an own role. Intent methods (bindTable, allowNodeQueues,
// bindSecret, allowAssumeRole) grant and set the matching environment variable together, so a
// function never has a name without the grant or a grant without the name.
import * as path from 'node:path';
import { ArnFormat, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { tableEnvVar, type TableId } from '../../functions/store/tables';
import { METRICS_NAMESPACE } from '../../functions/observability/metric-names';
import { ESM_REQUIRE_BANNER, REPO_ROOT } from '../../scripts/build-agent';
import type { TableRef, TableRefs } from './tables';
import { addSettings } from '../stage-settings';

/** API handlers answer a person or an agent; scheduled ones walk shards of a table. */
export type FunctionKind = 'api' | 'scheduled';
const TIMEOUT: Record<FunctionKind, Duration> = { api: Duration.seconds(10), scheduled: Duration.seconds(60) };

/** Checks a retention period against the values CloudWatch Logs accepts. */
export function retentionDays(days: number): logs.RetentionDays {
  if (!(Object.values(logs.RetentionDays) as unknown[]).includes(days)) throw new Error(`${days} is not a CloudWatch Logs retention period`);
  return days as logs.RetentionDays;
}

/** `name`: the env var only (the function may pass the name on but not touch the table). */
export type TableAccess = 'name' | 'read' | 'write';
const READ_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
];
// TransactWriteItems has no IAM action of its own: it is authorised per item by these.
const WRITE_ACTIONS = [...READ_ACTIONS, 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];

export interface NodeFunctionProps {
  /** handler file relative to the repository root; it exports `handler` */
  readonly entry: string;
  readonly description: string;
  /** sets the timeout: 10 s for api, 60 s for scheduled */
  readonly kind: FunctionKind;
  /** CloudWatch Logs retention of the function's log group, days */
  readonly logRetentionDays: number;
  /** @default 512 */
  readonly memoryMb?: number;
  /** variables every gpupool function reads (stage, heartbeat periods, queue prefix…). @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** the `service` dimension of its metrics (POWERTOOLS_SERVICE_NAME). @default 'gpupool' */
  readonly serviceName?: string;
  /** shell commands run after esbuild, e.g. to put a file beside the bundle */
  readonly afterBundling?: (inputDir: string, outputDir: string) => string[];
}

export class NodeFunction extends Construct {
  public readonly fn: nodejs.NodejsFunction;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  /** the handler's module, relative to the repository root */
  public readonly entry: string;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id);
    this.entry = props.entry;
    const memoryMb = props.memoryMb ?? 512;
    if (!Number.isInteger(memoryMb) || memoryMb < 128 || memoryMb > 10_240) throw new Error(`${id}: memoryMb must be an integer in 128..10240`);
    if (path.isAbsolute(props.entry)) throw new Error(`${id}: entry must be relative to the repository root`);

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: retentionDays(props.logRetentionDays) });
    // An own role instead of the AWSLambdaBasicExecutionRole managed policy: it may write to its
    // own log group only, not create log groups anywhere in the account.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `gpupool ${id}: ${props.description}`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      // the entry and the lock file are resolved from the repository root, never from the cwd
      entry: path.join(REPO_ROOT, props.entry),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: memoryMb,
      timeout: TIMEOUT[props.kind],
      role: this.role,
      logGroup: this.logGroup,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        // EMF metrics (functions/observability/metrics.ts): a namespace turns them on; the service names the stage
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'gpupool',
        ...props.environment,
      },
      // X-Ray segments for every invocation (the API stage traces too, so a request is one trace). The
      // Powertools Tracer, which would add per-call SDK subsegments, is left out: it adds ~124 KiB of
      // aws-xray-sdk-core and would push the largest bundles past the 1 MB budget (docs/operations.md).
      tracing: lambda.Tracing.ACTIVE,
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        externalModules: [],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        forceDockerBundling: false,
        ...(props.afterBundling
          ? { commandHooks: { beforeBundling: () => [], beforeInstall: () => [], afterBundling: props.afterBundling } }
          : {}),
        logLevel: nodejs.LogLevel.ERROR,
      },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so AWS requires Resource "*"; the statement holds only those two write actions.',
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x on purpose: gpupool is built and tested on Node 20 and 22 (the local stack runs the same handlers), and AWS supports the 22.x runtime into 2027; move to the next LTS together with the dev toolchain.',
    });
  }

  /** Sets TABLE_<ID> and, for read/write, grants exactly the table and its named indexes. */
  public bindTable(ref: TableRef, access: TableAccess): this {
    this.fn.addEnvironment(tableEnvVar(ref.def.id), ref.table.tableName);
    if (access === 'name') return this;
    const arn = ref.table.tableArn;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: access === 'write' ? WRITE_ACTIONS : READ_ACTIONS,
        resources: [arn, ...ref.def.indexes.map((i) => `${arn}/index/${i.name}`)],
      }),
    );
    return this;
  }

  /**
   * Binds the tables the function may use: each listed table gets its env var and its grant; the others
   * neither, so a function names only what it touches (a use of another table fails on its unset name).
   */
  public bindTables(refs: TableRefs, access: Partial<Record<TableId, Exclude<TableAccess, 'name'>>>): this {
    for (const [id, level] of Object.entries(access) as [TableId, Exclude<TableAccess, 'name'>][]) this.bindTable(refs[id], level);
    return this;
  }

  /**
   * Allows `actions` on the per-node queues, which are created at runtime as `${prefix}${nodeId}`,
   * and sets NODE_QUEUE_PREFIX. The grant is scoped to the prefix, never to every queue.
   */
  public allowNodeQueues(prefix: string, actions: readonly string[]): this {
    addSettings(this.fn, { queues: { prefix } });
    const resource = Stack.of(this).formatArn({ service: 'sqs', resource: `${prefix}*`, arnFormat: ArnFormat.NO_RESOURCE_NAME });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: actions.map((a) => `sqs:${a}`), resources: [resource] }));
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagArnText(Stack.of(this), 'sqs', `${prefix}*`)}]`,
      reason: 'Per-node queues are created at runtime, one per registered node, so their names are known only by prefix; the grant is limited to that prefix.',
    });
    return this;
  }

  /** Allows reading the secret and sets `envName` to its ARN (never its value). */
  public bindSecret(secret: secretsmanager.ISecret, envName: string): this {
    secret.grantRead(this.role);
    this.fn.addEnvironment(envName, secret.secretArn);
    return this;
  }

  /** Allows sts:AssumeRole and sts:TagSession on `role` and sets `envName` to its ARN. */
  public allowAssumeRole(role: iam.IRole, envName: string): this {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [role.roleArn] }));
    this.fn.addEnvironment(envName, role.roleArn);
    return this;
  }

  public addEnvironment(name: string, value: string): this {
    this.fn.addEnvironment(name, value);
    return this;
  }
}

/**
 * An ARN as cdk-nag prints it in a finding id: pseudo parameters that are still tokens appear as
 * `<AWS::Region>` and so on, concrete values (a stack with an explicit env) as themselves.
 */
function nagArnText(stack: Stack, service: string, resource: string): string {
  const part = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<${pseudo}>` : value);
  return `arn:${part(stack.partition, 'AWS::Partition')}:${service}:${part(stack.region, 'AWS::Region')}:${part(stack.account, 'AWS::AccountId')}:${resource}`;
}
