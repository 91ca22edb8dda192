// What AWS runs, run here (issue 18): the app is synthesized with real bundling, and every Lambda function
// of the templates is loaded from its bundle in cdk.out, in a fresh Node 22 process (the nodejs22.x
// runtime's Node, from the `node` devDependency), with the environment its template gives it: references
// resolved to local engines made from the template's own resources (tables, queues, secrets), the SDK's
// endpoints pointed at them, and any other AWS service answered with an error that fails the test. The API
// bundles sit behind the local gateway, which routes as the template's methods integrate and authorizes
// through the authorizer bundle; a real agent, downloaded from GET /agent/gpupool-agent.mjs and run with
// plain node, takes a job from submit to settlement; then every scheduled rule's function runs once.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore s3rver ships no types
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../functions/domain/model';
import { parseBurstSettings } from '../../functions/domain/burst/settings';
import { ROUTE_GROUPS, ROUTES, type RouteGroup } from '../../functions/http/routes';
import { startAgent, type AgentProcess } from '../../lib/local/agent-process';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local';
import { FakeEc2 } from '../../lib/local/fake-ec2';
import { startGateway, type Gateway } from '../../lib/local/gateway';
import { startSqsLocal, type SqsLocal } from '../../lib/local/sqs-local';
import { client, eventually } from '../helpers/api';
import { apiRoutes, authorizers, deployedFunctions, eventSourceInvocations, LOCAL_REGION, LocalResolver, readAssembly, scheduledInvocations, type DeployedFunction, type LocalSecret } from '../helpers/cfn-local';
import { startFakeAws, type FakeAws } from '../helpers/fake-aws';
import { node22, startLambdaProcess, type LambdaProcess } from '../helpers/lambda-process';
import { synthStages } from './cdk-helpers';

/** burst on, so its function, schedule and EC2 calls are in the template; L4 is a model only burst offers here */
const BURST = {
  enabled: true,
  instanceTypes: [{ instanceType: 'g6.xlarge', gpuModel: 'L4', gpus: 1, vramGb: 24, pricePerGpuHour: 1_200_000, costPerHourUsd: 0.805 }],
  waitSeconds: 0,
  maxInstances: 1,
  maxGpus: 1,
};

/**
 * The only settings that differ from the template, each because this machine is not AWS: the agent here
 * runs jobs as plain processes (AWS refuses that runtime), and agents reach the local SQS server instead
 * of the regional endpoint. Everything else comes from the template.
 */
const localOnly = (sqsEndpoint: string): Record<string, string> => ({ ALLOW_PROCESS_RUNTIME: 'true', AGENT_SQS_ENDPOINT: sqsEndpoint });

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

let dir: string;
let outdir: string;
let ddb: DynamoDbLocal | undefined;
let sqs: SqsLocal | undefined;
let ddbClient: DynamoDBClient;
let sqsClient: SQSClient;
let fakeAws: FakeAws | undefined;
let ec2: FakeEc2;
let gateway: Gateway | undefined;
let s3: { endpoint: string; close(): Promise<void> } | undefined;
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

async function startS3rver(directory: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  mkdirSync(directory, { recursive: true });
  const server = new (S3rver as unknown as new (o: object) => { run(): Promise<AddressInfo>; close(): Promise<void> })({ address: '127.0.0.1', port: 0, directory, silent: true, vhostBuckets: false });
  const addr = await server.run();
  return { endpoint: `http://127.0.0.1:${addr.port}`, close: () => server.close() };
}
let functions: DeployedFunction[];
const procs = new Map<string, LambdaProcess>();
const secrets = new Map<string, LocalSecret>();
const agentLines: string[] = [];
let agent: AgentProcess | undefined;
let stacks: ReturnType<typeof readAssembly>;
let adminKey: string;
/** a key of each role the job test created, for the routes it did not reach */
const keys: Partial<Record<Caller['role'], string>> = {};

const proc = (logicalId: string) => {
  const p = procs.get(logicalId);
  if (!p) throw new Error(`no process for ${logicalId}`);
  return p;
};

/** What Lambda sets in every function's environment, apart from the template's variables. */
function lambdaEnv(fn: DeployedFunction): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    // the engines take any key but s3rver, which takes only its own
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'local',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: '/usr/local/bin:/usr/bin:/bin',
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gpupool-bundles-'));
  // in the temp dir, away from the checkout: a bundle that requires a module it does not carry finds no node_modules
  outdir = path.join(dir, 'cdk.out');
  synthStages({ outdir, bundle: true, extra: { 'gpupool:burst': BURST } }).app.synth();
  stacks = readAssembly(outdir);
  functions = deployedFunctions(stacks);

  ddb = await startDynamoDbLocal();
  sqs = await startSqsLocal();
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  ddbClient = new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials });
  sqsClient = new SQSClient({ endpoint: sqs.endpoint, region: LOCAL_REGION, credentials });
  ec2 = new FakeEc2({ catalogue: parseBurstSettings(BURST).instanceTypes, stateDir: path.join(dir, 'ec2'), agentEnv: { GPUPOOL_DRAIN_SECONDS: '0' } });
  // the agent usage plan the nodes function looks up by name (each node's own usage key, issue 14.9)
  const usagePlanNames = functions.map((f) => f.environment.USAGE_AGENT_PLAN_NAME).filter((v): v is string => typeof v === 'string');
  fakeAws = await startFakeAws({ secrets, ec2, usagePlanNames });

  // the API as the template wires it: each method to the function its integration invokes
  const routes = apiRoutes(stacks);
  const [auth] = authorizers(stacks);
  const forward = async (e: APIGatewayProxyEvent, c: Context): Promise<APIGatewayProxyResult> => {
    const target = routes.get(`${e.httpMethod} ${e.resource}`);
    if (!target) throw new Error(`the template has no method ${e.httpMethod} ${e.resource}`);
    return proc(target.fn).invoke<APIGatewayProxyResult>(e, { budgetMs: c.getRemainingTimeInMillis(), requestId: c.awsRequestId });
  };
  gateway = await startGateway({
    port: 0,
    handlers: Object.fromEntries(ROUTE_GROUPS.map((g) => [g, forward])) as Record<RouteGroup, typeof forward>,
    // a TOKEN authorizer: an error is API Gateway's 401; the policy's context is what the handlers see
    authorize: async (key) => {
      const r = await proc(auth.fn).invokeRaw({ type: 'TOKEN', authorizationToken: key, methodArn: `arn:aws:execute-api:${LOCAL_REGION}:000000000000:localapi/local/GET/v1/health` }, { budgetMs: 10_000 });
      if (!r.ok) {
        if (r.error.message === 'Unauthorized') return undefined;
        throw new Error(`authorizer: ${r.error.name}: ${r.error.message}\n${r.error.stack}`);
      }
      const ctx = (r.result as { context: Record<string, string> }).context;
      return { accountId: ctx.accountId, role: ctx.role as Caller['role'], keyId: ctx.keyId, ...(ctx.nodeId ? { nodeId: ctx.nodeId } : {}) };
    },
    log: (m, e) => agentLines.push(`[gateway] ${m} ${e instanceof Error ? e.message : (e ?? '')}`),
  });

  // S3 (s3rver, started when the template has a bucket): it accepts the access key S3RVER only
  const bucket = async (name: string) => {
    s3 ??= await startS3rver(path.join(dir, 's3'));
    const c = new S3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    await c.send(new CreateBucketCommand({ Bucket: name }));
    c.destroy();
  };
  const resolver = new LocalResolver(stacks, { ddb: ddbClient, sqs: sqsClient, secrets, apiUrl: gateway.url, prefix: 'b-', bucket });
  const envs = new Map<string, Record<string, string>>();
  for (const fn of functions) envs.set(fn.logicalId, await resolver.environment(fn));
  const started = await Promise.allSettled(
    functions.map(async (fn) => {
      const env = {
        ...lambdaEnv(fn),
        ...envs.get(fn.logicalId),
        // the local engines in place of AWS's endpoints; every other service goes to the fake, which
        // serves what the local stack can (secrets, STS, EC2, SSM) and records the rest as unmapped
        AWS_ENDPOINT_URL: fakeAws!.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: ddb!.endpoint,
        AWS_ENDPOINT_URL_SQS: sqs!.endpoint,
        ...(s3 ? { AWS_ENDPOINT_URL_S3: s3.endpoint } : {}),
        ...localOnly(sqs!.endpoint),
      };
      procs.set(fn.logicalId, await startLambdaProcess({ name: fn.logicalId, dir: fn.dir, handler: fn.handler, env }));
    }),
  );
  // every bundle must load with the handler its template names (the others are stopped in afterAll)
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const admin = [...secrets.values()].map((s) => (s.value.startsWith('{') ? (JSON.parse(s.value) as { keyId?: string; secret?: string }) : {})).find((v) => v.keyId && v.secret)!;
  adminKey = `gp_${admin.keyId}_${admin.secret}`;
  keys.admin = adminKey;
  // the synth with bundling takes about 80 s on a quiet 2-core machine, over 5 minutes beside the whole suite
}, 900_000);

afterAll(async () => {
  const killer = agent && setTimeout(() => agent?.proc.kill('SIGKILL'), 10_000);
  await agent?.stop('SIGTERM');
  clearTimeout(killer);
  await ec2?.stopAll();
  await Promise.all([...procs.values()].map((p) => p.stop()));
  await gateway?.close();
  await fakeAws?.stop();
  await s3?.close();
  ddbClient?.destroy();
  sqsClient?.destroy();
  await sqs?.stop();
  await ddb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

const outputs = () => [...procs.values()].map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join('\n') + `\n--- agent\n${agentLines.slice(-80).join('\n')}`;

describe('the deployed bundles', () => {
  it('load in Node 22 with the handler each template names, and the API routes all reach one', () => {
    expect(functions.length).toBeGreaterThanOrEqual(ROUTE_GROUPS.length + 5);
    for (const fn of functions) {
      expect(fn.runtime, fn.logicalId).toBe('nodejs22.x');
      expect(proc(fn.logicalId).node, fn.logicalId).toMatch(/^v22\./);
    }
    const routes = apiRoutes(stacks);
    for (const r of ROUTES) expect(routes.get(`${r.method} ${r.path}`), `${r.method} ${r.path}`).toBeDefined();
    expect(authorizers(stacks)).toHaveLength(1);
    expect(node22()).toMatch(/node$/);
  });

  it('take a job from submit to settlement with the agent the public function serves, run with plain node', async () => {
    const api = client(gateway!.url);
    const admin = client(gateway!.url, adminKey);
    expect((await api.get('/v1/health')).status).toBe(200);

    // the agent bundle, over HTTP, checked against its published digest
    const res = await fetch(`${gateway!.url}/agent/gpupool-agent.mjs`);
    expect(res.status).toBe(200);
    const bundle = Buffer.from(await res.arrayBuffer());
    const digest = (await (await fetch(`${gateway!.url}/agent/gpupool-agent.mjs.sha256`)).text()).trim().split(/\s+/)[0];
    expect(createHash('sha256').update(bundle).digest('hex')).toBe(digest);
    const agentFile = path.join(dir, 'agent', 'gpupool-agent.mjs');
    mkdirSync(path.dirname(agentFile), { recursive: true });
    writeFileSync(agentFile, bundle);

    const account = async (role: string, credits: number) => {
      const r = await admin.post('/v1/accounts', { name: `bundle-${role}`, role });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      if (credits) expect((await admin.post(`/v1/accounts/${r.body.account.id}/credits`, { amount: credits, memo: 'bundle test' })).status).toBe(201);
      keys[role as Caller['role']] = r.body.apiKey;
      return { id: r.body.account.id as string, api: client(gateway!.url, r.body.apiKey), key: r.body.apiKey as string };
    };
    const provider = await account('provider', 1_000_000_000);
    const consumer = await account('consumer', 1_000_000_000);
    // the template's stake rule: a node's GPUs must be covered before it takes work
    const stake = await provider.api.post('/v1/stake', { amount: 500_000_000 });
    expect(stake.status, JSON.stringify(stake.body)).toBe(200);

    agent = startAgent({
      name: 'bundle-node',
      apiUrl: gateway!.url,
      providerKey: provider.key,
      stateDir: path.join(dir, 'agent', 'state'),
      gpus: '1xA100-80',
      env: { GPUPOOL_DRAIN_SECONDS: '0', GPUPOOL_PROBE_PORT: '0' },
      onLine: (l) => agentLines.push(l),
      bundle: { execPath: node22(), file: agentFile },
    });
    const node = await eventually(async () => {
      const r = await provider.api.get('/v1/nodes');
      return r.body.items?.find((n: { name: string; status: string }) => n.name === 'bundle-node' && n.status === 'ONLINE');
    }, 120_000, `the bundled agent's node online\n${outputs()}`);
    // its registration made the node's own usage key, in the agent plan (found by the name the template gives)
    expect(fakeAws!.usageKeys()).toEqual([expect.objectContaining({ name: `gpupool-node-${node.id}`, value: expect.stringMatching(new RegExp(`-node-${node.id}$`)), plans: [expect.stringMatching(/-agent-tier$/)] })]);

    const submitted = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'echo hello from the bundles'], resources: { gpus: 1 } });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const id = submitted.body.job.id as string;
    const job = await eventually(async () => {
      const r = await consumer.api.get(`/v1/jobs/${id}`);
      return FINAL.includes(r.body.job?.status) ? r.body.job : undefined;
    }, 120_000, `job ${id} to end\n${outputs()}`);
    expect(job.status, JSON.stringify(job)).toBe('SUCCEEDED');
    const logs = await consumer.api.get(`/v1/jobs/${id}/logs`);
    expect(logs.body.items.map((l: { text: string }) => l.text)).toContain('hello from the bundles');

    // settled: the consumer paid, the provider was paid
    const [c, p] = await Promise.all([consumer.api.get('/v1/balance'), provider.api.get('/v1/balance')]);
    expect(c.status, JSON.stringify(c.body)).toBe(200);
    expect(c.body.held ?? 0).toBe(0);
    expect(c.body.available).toBeLessThan(1_000_000_000);
    expect(p.body.available + (p.body.staked ?? 0)).toBeGreaterThan(1_000_000_000);
  }, 300_000);

  it('run every scheduled rule once: sweep, reaper, checker shards, ledger audit, burst against the fake EC2', async () => {
    // a job only burst can serve (no node has an L4), so the burst tick launches through the EC2 API
    const admin = client(gateway!.url, adminKey);
    const consumer = await admin.post('/v1/accounts', { name: 'bundle-burst', role: 'consumer' });
    await admin.post(`/v1/accounts/${consumer.body.account.id}/credits`, { amount: 1_000_000_000, memo: 'bundle test' });
    const waiting = await client(gateway!.url, consumer.body.apiKey).post('/v1/jobs', { command: ['true'], resources: { gpus: 1, gpuModels: ['L4'] } });
    expect(waiting.status, JSON.stringify(waiting.body)).toBe(202);

    const runs = scheduledInvocations(stacks);
    const byFn = new Map<string, unknown[]>();
    for (const r of runs) {
      // a short budget: the reaper makes passes for as long as its invocation may run, one here
      const result = await proc(r.fn).invoke(r.input, { budgetMs: 5_000 }).catch((e: Error) => {
        throw new Error(`${r.rule} -> ${r.fn}: ${e.message}`);
      });
      byFn.set(r.fn, [...(byFn.get(r.fn) ?? []), result]);
    }
    const results = (prefix: string) => [...byFn.entries()].find(([fn]) => fn.startsWith(prefix))?.[1] ?? [];
    expect(results('SweepHandler')).toHaveLength(1);
    expect(results('ReaperHandler')).toHaveLength(1);
    expect(results('CheckerHandler').length).toBeGreaterThanOrEqual(1);
    // the ledger balances after a settled job
    expect(results('AuditHandler')).toEqual([expect.objectContaining({ ok: true, differences: 0 })]);
    const burst = [...byFn.entries()].find(([fn]) => fn.startsWith('Burst'))?.[1] ?? [];
    expect(burst, outputs()).toEqual([expect.objectContaining({ launched: 1 })]);
    expect(ec2.instances).toHaveLength(1);
    expect(ec2.instances[0].request).toMatchObject({ instanceType: 'g6.xlarge', stage: expect.any(String) });
  }, 180_000);

  it('take a record from each event source without failing it (e.g. the webhooks function: its retry queue, the jobs stream)', async () => {
    const runs = eventSourceInvocations(stacks);
    expect(runs.length).toBeGreaterThanOrEqual(1);
    for (const r of runs) {
      const result = await proc(r.fn).invoke<{ batchItemFailures?: unknown[] }>(r.input, { budgetMs: 10_000 }).catch((e: Error) => {
        throw new Error(`${r.mapping} -> ${r.fn}: ${e.message}`);
      });
      if (r.reportsFailures) expect(result, r.mapping).toEqual({ batchItemFailures: [] });
    }
  }, 60_000);

  it('answer a route of each API function the job did not reach (a key of an allowed role, made-up ids, an empty body) below 500', async () => {
    const routes = apiRoutes(stacks);
    for (const fn of new Set([...routes.values()].map((r) => r.fn))) {
      if (proc(fn).invocations() > 0) continue;
      const mine = ROUTES.filter((r) => routes.get(`${r.method} ${r.path}`)?.fn === fn);
      const route = mine.find((r) => r.method === 'GET') ?? mine[0];
      expect(route, `${fn} serves no route of functions/http/routes.ts`).toBeDefined();
      const role = route.roles.find((x) => x in keys);
      const api = client(gateway!.url, role ? keys[role] : undefined);
      const r = await api.call(route.method, route.path.replace(/\{[^}]+\}/g, 'nosuchid'), route.method === 'GET' || route.method === 'DELETE' ? undefined : {});
      expect(r.status, `${route.method} ${route.path}: ${JSON.stringify(r.body)}`).toBeLessThan(500);
      expect(proc(fn).invocations(), `${route.method} ${route.path} reached ${fn}`).toBeGreaterThan(0);
    }
  }, 60_000);

  it('were each invoked, and called no AWS service the local stack does not serve', () => {
    // a function nothing here invokes is a function this test does not cover: give it its route, rule or source
    for (const p of procs.values()) expect(p.invocations(), p.name).toBeGreaterThan(0);
    expect(fakeAws!.unmapped, fakeAws!.calls.join('\n')).toEqual([]);
    for (const p of procs.values()) expect(p.proc.exitCode, p.name).toBeNull();
  });
});
