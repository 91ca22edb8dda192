// A synthesized cloud assembly (cdk.out) made runnable on this machine: every Lambda function with its
// bundle directory, handler and Environment, and the references in that environment (Ref, Fn::GetAtt,
// Fn::ImportValue, Fn::Join, Fn::Sub, ...) resolved to local engines. Each referenced resource is made
// locally the first time a function's environment names it, from its own template properties (a table
// is created in DynamoDB Local with the template's keys and indexes, a queue in the SQS server, a bucket in
// s3rver, a secret in the fake Secrets Manager). A resource type with no local engine is an error naming it, so a new
// kind of resource fails the bundle test until the local stack can serve it.
import { CreateTableCommand, DescribeTableCommand, type CreateTableCommandInput, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';
/** the RestApi id every API reference resolves to; its execute-api URL is rewritten to the local gateway's */
const LOCAL_API_ID = 'localapi';

type Json = any;
interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
}
interface StackTemplate {
  name: string;
  resources: Record<string, Resource>;
  outputs: Record<string, { Value: Json; Export?: { Name: Json } }>;
  /** asset hash -> directory in the assembly */
  assets: Record<string, string>;
}

export interface DeployedFunction {
  stack: string;
  logicalId: string;
  /** the bundle directory in cdk.out (Lambda's task root) */
  dir: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** the template's Environment.Variables, unresolved */
  environment: Record<string, Json>;
}

/** Reads every CloudFormation stack of a cloud assembly directory. */
export function readAssembly(outdir: string): StackTemplate[] {
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string; properties?: { templateFile?: string; file?: string } }> };
  const stacks: StackTemplate[] = [];
  for (const [name, a] of Object.entries(manifest.artifacts)) {
    if (a.type !== 'aws:cloudformation:stack') continue;
    const t = JSON.parse(readFileSync(path.join(outdir, a.properties!.templateFile!), 'utf8'));
    const assetsFile = path.join(outdir, `${name}.assets.json`);
    const assets: Record<string, string> = {};
    if (existsSync(assetsFile)) {
      const files = (JSON.parse(readFileSync(assetsFile, 'utf8')) as { files?: Record<string, { source: { path: string } }> }).files ?? {};
      for (const [hash, f] of Object.entries(files)) assets[hash] = path.join(outdir, f.source.path);
    }
    stacks.push({ name, resources: t.Resources ?? {}, outputs: t.Outputs ?? {}, assets });
  }
  return stacks;
}

/** Every AWS::Lambda::Function of the assembly with its bundle directory (found through the asset manifest). */
export function deployedFunctions(stacks: StackTemplate[]): DeployedFunction[] {
  const out: DeployedFunction[] = [];
  for (const s of stacks)
    for (const [id, r] of Object.entries(s.resources)) {
      if (r.Type !== 'AWS::Lambda::Function') continue;
      const p = r.Properties ?? {};
      const key = String(p.Code?.S3Key ?? '');
      const dir = s.assets[key.replace(/\.zip$/, '')];
      if (!dir) throw new Error(`${s.name}/${id}: no asset directory for code ${JSON.stringify(p.Code)}`);
      out.push({
        stack: s.name,
        logicalId: id,
        dir,
        handler: p.Handler,
        runtime: p.Runtime,
        timeoutSeconds: p.Timeout ?? 3,
        memoryMb: p.MemorySize ?? 128,
        environment: p.Environment?.Variables ?? {},
      });
    }
  return out;
}

export interface LocalSecret {
  arn: string;
  value: string;
}

export interface LocalEngines {
  ddb: DynamoDBClient;
  sqs: SQSClient;
  /** the fake Secrets Manager's store: ARN -> value */
  secrets: Map<string, LocalSecret>;
  /** what every reference to the API's invoke URL becomes */
  apiUrl: string;
  /** local table names get this prefix, so two runs never share a table */
  prefix: string;
  /** makes a bucket in the local S3 (started on first use) */
  bucket(name: string): Promise<void>;
}

interface Made {
  ref: string;
  attrs: Record<string, string>;
}

const arn = (service: string, resource: string, region = LOCAL_REGION) => `arn:aws:${service}:${region}:${LOCAL_ACCOUNT}:${resource}`;

/** The properties of AWS::DynamoDB::Table that CreateTable takes, as the template gives them. */
function createTableInput(name: string, p: Record<string, Json>): CreateTableCommandInput {
  return {
    TableName: name,
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    BillingMode: p.BillingMode ?? 'PAY_PER_REQUEST',
    ...(p.ProvisionedThroughput ? { ProvisionedThroughput: p.ProvisionedThroughput } : {}),
    ...(p.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes } : {}),
    ...(p.LocalSecondaryIndexes ? { LocalSecondaryIndexes: p.LocalSecondaryIndexes } : {}),
    ...(p.StreamSpecification ? { StreamSpecification: { StreamEnabled: true, StreamViewType: p.StreamSpecification.StreamViewType } } : {}),
  };
}

/** A value like Secrets Manager's GenerateSecretString makes (letters and digits only is all gpupool asks for). */
function generatedSecret(g: Record<string, Json>): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(g.PasswordLength ?? 32);
  const value = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
  if (!g.SecretStringTemplate) return value;
  return JSON.stringify({ ...JSON.parse(g.SecretStringTemplate), [g.GenerateStringKey]: value });
}

/**
 * Resolves template expressions to local values, making each referenced resource on first use.
 * One per test: it keeps what it made.
 */
export class LocalResolver {
  private readonly made = new Map<string, Promise<Made>>();
  private readonly exports = new Map<string, { stack: StackTemplate; value: Json }>();

  constructor(
    private readonly stacks: StackTemplate[],
    private readonly engines: LocalEngines,
  ) {
    for (const s of stacks)
      for (const o of Object.values(s.outputs)) if (o.Export && typeof o.Export.Name === 'string') this.exports.set(o.Export.Name, { stack: s, value: o.Value });
  }

  /** A function's Environment with every value a string: references resolved to the local engines. */
  async environment(fn: DeployedFunction): Promise<Record<string, string>> {
    const stack = this.stacks.find((s) => s.name === fn.stack)!;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(fn.environment)) {
      try {
        env[k] = await this.resolve(stack, v);
      } catch (e) {
        throw new Error(`${fn.logicalId} ${k}: ${(e as Error).message}`);
      }
    }
    return env;
  }

  async resolve(stack: StackTemplate, v: Json): Promise<string> {
    const s = await this.value(stack, v);
    if (typeof s !== 'string' && typeof s !== 'number' && typeof s !== 'boolean') throw new Error(`resolved to a non-scalar ${JSON.stringify(s)}`);
    // the API's invoke URL, https://<api>.execute-api.<region>.<suffix>/<stage>/: the local gateway serves it at its root
    return String(s).replace(new RegExp(`https://${LOCAL_API_ID}\\.execute-api\\.[^/]+/[^/]+/?`, 'g'), `${this.engines.apiUrl}/`);
  }

  private async value(stack: StackTemplate, v: Json): Promise<Json> {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return Promise.all(v.map((x) => this.value(stack, x)));
    const [fn, arg] = Object.entries(v)[0] as [string, Json];
    switch (fn) {
      case 'Ref':
        return this.pseudo(stack, arg) ?? (await this.make(stack, arg)).ref;
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
        const m = await this.make(stack, id);
        if (!(attr in m.attrs)) throw new Error(`no local value for ${stack.resources[id].Type} attribute ${attr} (${id})`);
        return m.attrs[attr];
      }
      case 'Fn::ImportValue': {
        const name = await this.value(stack, arg);
        const e = this.exports.get(name);
        if (!e) throw new Error(`no stack exports ${name}`);
        return this.value(e.stack, e.value);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg;
        return ((await this.value(stack, parts)) as Json[]).join(sep);
      }
      case 'Fn::Select': {
        const [i, list] = arg;
        return ((await this.value(stack, list)) as Json[])[Number(await this.value(stack, i))];
      }
      case 'Fn::Split': {
        const [sep, s] = arg;
        return String(await this.value(stack, s)).split(sep);
      }
      case 'Fn::Sub': {
        const [text, vars] = typeof arg === 'string' ? [arg, {}] : arg;
        let out = '';
        let last = 0;
        for (const m of (text as string).matchAll(/\$\{([^}!][^}]*)\}/g)) {
          const name = m[1];
          const dot = name.indexOf('.');
          const expr = name in vars ? vars[name] : dot > 0 && !name.startsWith('AWS::') ? { 'Fn::GetAtt': [name.slice(0, dot), name.slice(dot + 1)] } : { Ref: name };
          out += text.slice(last, m.index) + String(await this.value(stack, expr));
          last = m.index! + m[0].length;
        }
        return out + text.slice(last);
      }
      default:
        throw new Error(`no local resolution for ${fn}`);
    }
  }

  private pseudo(stack: StackTemplate, name: string): string | undefined {
    const values: Record<string, string> = {
      'AWS::Region': LOCAL_REGION,
      'AWS::AccountId': LOCAL_ACCOUNT,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': stack.name,
      'AWS::StackId': arn('cloudformation', `stack/${stack.name}/local`),
    };
    return values[name];
  }

  private make(stack: StackTemplate, id: string): Promise<Made> {
    const key = `${stack.name}/${id}`;
    let p = this.made.get(key);
    if (!p) {
      const r = stack.resources[id];
      if (!r) return Promise.reject(new Error(`no resource ${key}`));
      p = this.provision(stack, id, r);
      this.made.set(key, p);
    }
    return p;
  }

  private async provision(stack: StackTemplate, id: string, r: Resource): Promise<Made> {
    const p = r.Properties ?? {};
    const e = this.engines;
    const local = `${e.prefix}${stack.name}-${id}`;
    switch (r.Type) {
      case 'AWS::DynamoDB::Table': {
        const name = typeof p.TableName === 'string' ? `${e.prefix}${p.TableName}` : local;
        await e.ddb.send(new CreateTableCommand(createTableInput(name, p)));
        const d = await e.ddb.send(new DescribeTableCommand({ TableName: name }));
        return { ref: name, attrs: { Arn: arn('dynamodb', `table/${name}`), StreamArn: d.Table?.LatestStreamArn ?? '' } };
      }
      case 'AWS::SQS::Queue': {
        const name = typeof p.QueueName === 'string' ? p.QueueName : `${local}${p.FifoQueue ? '.fifo' : ''}`;
        const attributes: Record<string, string> = {};
        for (const k of ['DelaySeconds', 'MessageRetentionPeriod', 'VisibilityTimeout', 'FifoQueue']) if (p[k] !== undefined) attributes[k] = String(p[k]);
        const url = (await e.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
        return { ref: url, attrs: { Arn: arn('sqs', name), QueueName: name, QueueUrl: url } };
      }
      case 'AWS::SecretsManager::Secret': {
        const secretArn = arn('secretsmanager', `secret:${id}-${randomBytes(3).toString('hex')}`);
        const value = typeof p.SecretString === 'string' ? p.SecretString : generatedSecret(p.GenerateSecretString ?? {});
        e.secrets.set(secretArn, { arn: secretArn, value });
        return { ref: secretArn, attrs: { Id: secretArn } };
      }
      case 'AWS::S3::Bucket': {
        const name = (typeof p.BucketName === 'string' ? p.BucketName : `${e.prefix}${stack.name}-${id}`).toLowerCase();
        await e.bucket(name);
        return { ref: name, attrs: { Arn: `arn:aws:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com`, RegionalDomainName: `${name}.s3.${LOCAL_REGION}.amazonaws.com` } };
      }
      case 'AWS::KMS::Key': {
        // the fake KMS (test/helpers/fake-aws.ts) takes any key id
        const keyId = randomUUID();
        return { ref: keyId, attrs: { Arn: arn('kms', `key/${keyId}`), KeyId: keyId } };
      }
      case 'AWS::KMS::Alias':
        return { ref: String(p.AliasName), attrs: {} };
      // names only: nothing here is called at runtime (roles are assumed through the fake STS)
      case 'AWS::IAM::Role':
        return { ref: id, attrs: { Arn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${id}`, RoleId: `AROA${id.toUpperCase().slice(0, 17)}` } };
      case 'AWS::IAM::InstanceProfile':
        return { ref: id, attrs: { Arn: `arn:aws:iam::${LOCAL_ACCOUNT}:instance-profile/${id}` } };
      case 'AWS::EC2::Subnet':
        return { ref: `subnet-${randomBytes(8).toString('hex')}`, attrs: {} };
      case 'AWS::EC2::SecurityGroup': {
        const sg = `sg-${randomBytes(8).toString('hex')}`;
        return { ref: sg, attrs: { GroupId: sg } };
      }
      case 'AWS::ApiGateway::RestApi':
        return { ref: LOCAL_API_ID, attrs: { RootResourceId: 'root' } };
      case 'AWS::ApiGateway::Stage':
        return { ref: String(p.StageName ?? 'local'), attrs: {} };
      case 'AWS::ApiGateway::Deployment':
        return { ref: 'local-deployment', attrs: {} };
      default:
        throw new Error(`no local engine for ${r.Type} (${stack.name}/${id}); teach test/helpers/cfn-local.ts to make one`);
    }
  }
}

/** The first function a value refers to through Fn::GetAtt [<function>, Arn] (an integration or target ARN). */
function functionIn(resources: Record<string, Resource>, v: Json): string | undefined {
  const s = JSON.stringify(v);
  for (const m of s.matchAll(/\{"Fn::GetAtt":\["([^"]+)","Arn"\]\}/g)) if (resources[m[1]]?.Type === 'AWS::Lambda::Function') return m[1];
  return undefined;
}

/** `METHOD /full/path` -> the function its AWS_PROXY integration invokes, for every API Gateway method. */
export function apiRoutes(stacks: StackTemplate[]): Map<string, { stack: string; fn: string }> {
  const out = new Map<string, { stack: string; fn: string }>();
  for (const s of stacks) {
    const pathOf = (ref: Json): string => {
      if (!ref?.Ref) return '';
      const r = s.resources[ref.Ref];
      return `${pathOf(r.Properties!.ParentId)}/${r.Properties!.PathPart}`;
    };
    for (const r of Object.values(s.resources)) {
      if (r.Type !== 'AWS::ApiGateway::Method' || r.Properties?.Integration?.Type !== 'AWS_PROXY') continue;
      const fn = functionIn(s.resources, r.Properties.Integration.Uri);
      if (fn) out.set(`${r.Properties.HttpMethod} ${pathOf(r.Properties.ResourceId) || '/'}`, { stack: s.name, fn });
    }
  }
  return out;
}

/** The functions behind API Gateway authorizers, with their type (TOKEN or REQUEST). */
export function authorizers(stacks: StackTemplate[]): { stack: string; fn: string; type: string }[] {
  return stacks.flatMap((s) =>
    Object.values(s.resources)
      .filter((r) => r.Type === 'AWS::ApiGateway::Authorizer')
      .map((r) => ({ stack: s.name, fn: functionIn(s.resources, r.Properties!.AuthorizerUri)!, type: r.Properties!.Type })),
  );
}

/** Every scheduled invocation: each EventBridge rule's Lambda targets with the input the rule sends. */
export function scheduledInvocations(stacks: StackTemplate[]): { stack: string; rule: string; fn: string; input: unknown }[] {
  const out: { stack: string; rule: string; fn: string; input: unknown }[] = [];
  for (const s of stacks)
    for (const [id, r] of Object.entries(s.resources)) {
      if (r.Type !== 'AWS::Events::Rule' || !r.Properties?.ScheduleExpression) continue;
      for (const t of r.Properties.Targets ?? []) {
        const fn = functionIn(s.resources, t.Arn);
        if (!fn) continue;
        // no Input: EventBridge sends its scheduled event
        const input = typeof t.Input === 'string' ? JSON.parse(t.Input) : { version: '0', id: `local-${id}`, 'detail-type': 'Scheduled Event', source: 'aws.events', account: LOCAL_ACCOUNT, time: new Date().toISOString(), region: LOCAL_REGION, resources: [], detail: {} };
        out.push({ stack: s.name, rule: id, fn, input });
      }
    }
  return out;
}

/**
 * Every event source mapping's function with one record of the kind its source delivers: an SQS message
 * whose body is `{}` (a queue), or a MODIFY stream record without images (a table stream). Handlers must
 * take both without throwing and, where the mapping reports batch item failures, without failing the record.
 */
export function eventSourceInvocations(stacks: StackTemplate[]): { stack: string; mapping: string; fn: string; input: unknown; reportsFailures: boolean }[] {
  const out: { stack: string; mapping: string; fn: string; input: unknown; reportsFailures: boolean }[] = [];
  for (const s of stacks)
    for (const [id, r] of Object.entries(s.resources)) {
      if (r.Type !== 'AWS::Lambda::EventSourceMapping') continue;
      const fn = r.Properties!.FunctionName?.Ref ?? functionIn(s.resources, r.Properties!.FunctionName);
      const source = JSON.stringify(r.Properties!.EventSourceArn);
      const record = /StreamArn/.test(source)
        ? { eventID: '1', eventName: 'MODIFY', eventSource: 'aws:dynamodb', awsRegion: LOCAL_REGION, dynamodb: { SequenceNumber: '1', StreamViewType: 'NEW_AND_OLD_IMAGES' } }
        : { messageId: randomUUID(), receiptHandle: 'local', body: '{}', attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'local', awsRegion: LOCAL_REGION };
      const reportsFailures = (r.Properties!.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures');
      out.push({ stack: s.name, mapping: id, fn, input: { Records: [record] }, reportsFailures });
    }
  return out;
}
