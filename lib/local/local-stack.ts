// The embedded local stack: DynamoDB Local, the in-process SQS server, the same Lambda handlers behind a
// local gateway, and the schedules on timers. `npm start` and the end-to-end tests both use this.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { authorize } from '../../functions/http/authorizer';
import { handler as accounts } from '../../functions/http/accounts';
import { handler as agent } from '../../functions/http/agent';
import { handler as jobs } from '../../functions/http/jobs';
import { handler as secrets } from '../../functions/http/secrets';
import { handler as governanceRoutes } from '../../functions/http/governance';
import { runGovernance } from '../../functions/usecases/governance';
import { LOCAL_GOVERNANCE } from './governance-local';
import { EnvelopeCipher, LocalKeyWrapper, localSecretsKey } from '../../functions/store/secret-cipher';
import { handler as nodes } from '../../functions/http/nodes';
import { handler as publicRoutes } from '../../functions/http/public';
import type { RouteGroup } from '../../functions/http/routes';
import { makeDocClient } from '../../functions/store/clients';
import { ensureAdmin } from '../../functions/usecases/accounts';
import { ensureSystemAccounts } from '../../functions/usecases/ledger';
import { buildDeps, setDeps, settingsFromEnv, type Deps, type Settings } from '../../functions/usecases/deps';
import { sweep } from '../../functions/usecases/placement';
import { reap } from '../../functions/usecases/reaper';
import { reconcileAll, reconcileService } from '../../functions/usecases/service-reconcile';
import { localServiceSettings } from '../../functions/usecases/service-settings';
import { handler as servicesRoutes } from '../../functions/http/services';
import { runChecker } from '../../functions/usecases/checker';
import { runNetworkEpochs } from '../../functions/usecases/checker-epoch';
import type { CheckerSettings } from '../../functions/usecases/checker-settings';
import { tableNamesFor, createTables } from './create-tables';
import { startDynamoDbLocal } from './dynamodb-local';
import { consoleRoutes } from './console-static';
import { localServiceRoutes } from './service-routes';
import { startGateway } from './gateway';
import type { AgentRateLimitOptions, RateLimitOptions } from './rate-limit';
import { startSqsLocal } from './sqs-local';
import { startS3Local } from './s3-local';
import { makeS3Client, S3FileStorage } from '../../functions/store/files-store';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { every, type Timer } from './timers';
import { startLocalBurst, type LocalBurst, type LocalBurstOptions } from './burst-local';
import { startJobStream, startRetryPoller } from './job-stream';
import { handleWebhookEvent } from '../../functions/scheduled/webhooks';
import { webhookPorts } from '../../functions/usecases/webhooks';
import type { WebhookSettings } from '../../functions/usecases/webhook-settings';

export interface LocalStackOptions {
  /** HTTP port of the gateway; 0 picks a free one */
  port: number;
  host?: string;
  /** where DynamoDB Local keeps its data; undefined keeps it in memory */
  dataDir?: string;
  adminKey: string;
  /** port of the in-process SQS server; 0 picks a free one. Keeping it across restarts spares agents a new session */
  sqsPort?: number;
  /** ms between sweep and reaper runs */
  sweepMs?: number;
  reaperMs?: number;
  /** ms between checker runs (probes, canaries); also the period rewards count per good probe. @default 5000 */
  checkerMs?: number;
  /** ms between governance runs (close windows, enact). @default LOCAL_GOVERNANCE.periodMs */
  governanceMs?: number;
  /** ms between closes of the checker network's epochs (docs/checkers.md). @default 1000 */
  networkMs?: number;
  /** overrides of the checker's local settings (canaryRate defaults to 0 here: set it to send canaries) */
  checker?: Partial<CheckerSettings>;
  /** overrides of the webhook settings (tests shorten retryDelaysSeconds) */
  webhooks?: Partial<WebhookSettings>;
  /** overrides of the control plane's settings (heartbeats, deadlines, queues) */
  settings?: Partial<Settings>;
  /** how long the gateway caches an accepted key (API Gateway's authorizer cache TTL). @default 60000 */
  cacheTtlMs?: number;
  /**
   * the usage plan per account (rate, burst, daily quota), as the CDK tier in cdk.json; false: none.
   * @default GENEROUS_RATE_LIMIT, so tests that hammer the API are not throttled
   */
  rateLimit?: RateLimitOptions | false;
  /** the agent tier, per node (node keys only, apart from every account's traffic); false: none. @default GENEROUS_AGENT_RATE_LIMIT */
  agentRateLimit?: AgentRateLimitOptions | false;
  /** the built web console served at /console. @default dist/console of the checkout */
  consoleDir?: string;
  log?: (msg: string) => void;
  /** burst in its test mode: the burst tick against a fake EC2 whose instances are agent processes (docs/burst.md) */
  burst?: LocalBurstOptions;
}

export interface LocalStack {
  apiUrl: string;
  port: number;
  deps: Deps;
  ddbEndpoint: string;
  sqsEndpoint: string;
  /** the in-process S3 (s3rver) behind files, outputs and checkpoints */
  s3Endpoint: string;
  /** the burst table (always) and, with options.burst, the fake EC2 */
  burst: LocalBurst;
  stop(): Promise<void>;
}

/** The local stack's default usage plan: high enough that no test or demo meets it; `npm start` passes cdk.json's tier. */
export const GENEROUS_RATE_LIMIT: RateLimitOptions = { rateLimit: 10_000, burstLimit: 20_000, quotaPerDay: 100_000_000 };
export const GENEROUS_AGENT_RATE_LIMIT: AgentRateLimitOptions = { rateLimit: 10_000, burstLimit: 20_000 };

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * The control plane's probe-signing secret: random per start, or kept (0600) under the data dir so agents
 * that survive a restart of the stack still trust its probes.
 */
function localSigningSecret(dataDir: string | undefined): string {
  const file = dataDir ? path.join(dataDir, 'checker-signing-secret') : undefined;
  if (file && existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= 32) return kept;
  }
  const secret = randomBytes(32).toString('hex');
  if (file) writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

export async function startLocalStack(o: LocalStackOptions): Promise<LocalStack> {
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    if (o.dataDir) mkdirSync(o.dataDir, { recursive: true });
    const ddb = await startDynamoDbLocal({ port: 0, dbPath: o.dataDir ? path.join(o.dataDir, 'dynamodb') : undefined });
    stops.push(() => ddb.stop());
    const sqs = await startSqsLocal({ port: o.sqsPort ?? 0 });
    stops.push(() => sqs.stop());
    // files, outputs and checkpoints: s3rver with its data under the data dir, or a temp dir removed at stop
    const s3Dir = o.dataDir ? path.join(o.dataDir, 's3') : mkdtempSync(path.join(tmpdir(), 'gpupool-s3-'));
    if (!o.dataDir) stops.push(() => rmSync(s3Dir, { recursive: true, force: true }));
    const s3 = await startS3Local({ directory: s3Dir, bucket: 'gpupool-files' });
    stops.push(() => s3.stop());

    const region = 'us-east-1';
    const ddbClient = new DynamoDBClient({ endpoint: ddb.endpoint, region, credentials: LOCAL_CREDENTIALS });
    const tables = tableNamesFor('gpupool-');
    await createTables(ddbClient, tables);
    const sqsClient = new SQSClient({ endpoint: sqs.endpoint, region, credentials: LOCAL_CREDENTIALS });
    // the shared dead-letter queue the per-node queues redrive to, as on AWS
    await sqsClient.send(new CreateQueueCommand({ QueueName: 'gpupool-node-dlq' }));
    // failed webhook attempts wait here for their next try (DelaySeconds), as on AWS
    const webhookQueueUrl = (await sqsClient.send(new CreateQueueCommand({ QueueName: 'gpupool-webhook-retries' }))).QueueUrl!;
    const base = settingsFromEnv({ NODE_DLQ_ARN: `arn:aws:sqs:${region}:123456789012:gpupool-node-dlq` });
    const settings: Settings = {
      ...base,
      // a small pool on one machine: notice dead nodes in seconds rather than minutes
      heartbeat: { busySeconds: 5, idleSeconds: 15 },
      deadlines: { ...base.deadlines, dispatchTimeoutMs: 10_000 },
      agentSqsEndpoint: sqs.endpoint,
      region,
      // the demo agents and tests run the process runtime: one developer's machine, no strangers' jobs
      allowProcessRuntime: true,
      // the demo pace of docs/governance.md: 5 s votes, enacted seconds after
      governance: { ...base.governance!, ...LOCAL_GOVERNANCE.settings },
      ...o.settings,
      queues: { ...base.queues, ...o.settings?.queues },
      // the demo pace of docs/services.md: 60 s billing periods, replicas judged in seconds; the url is set once the gateway listens
      services: { ...localServiceSettings(''), ...o.settings?.services },
      checker: {
        ...base.checker,
        // agents of the local stack listen on loopback; the cloud refuses it (SSRF guard)
        allowAddresses: ['loopback'],
        probeTimeoutMs: 2_000,
        concurrency: 32,
        canaryRate: 0,
        periodMs: o.checkerMs ?? 5_000,
        epochMs: 5 * 60_000,
        // the checker network's demo pace (DESIGN.md, Contract part 2): an epoch lasts at most 15 s
        networkEpochMs: 15_000,
        signingSecret: localSigningSecret(o.dataDir),
        ...o.checker,
      },
      webhooks: {
        ...base.webhooks,
        // a receiver on this machine, over plain http; the cloud allows https to public addresses only
        allowAddresses: ['loopback'],
        httpAllowedFor: ['loopback'],
        retryQueueUrl: webhookQueueUrl,
        ...o.webhooks,
      },
    };
    const db = makeDocClient(ddbClient);
    const deps = buildDeps({
      db,
      sqs: sqsClient,
      tables,
      settings: { ...settings, files: { bucket: s3.bucket, endpoint: s3.endpoint } },
      files: new S3FileStorage(makeS3Client({ bucket: s3.bucket, endpoint: s3.endpoint, region, credentials: s3.credentials }), s3.bucket),
      // secrets are sealed under a key kept 0600 in the data dir (.gpupool/secrets.key), or held in memory
      secretCipher: new EnvelopeCipher(new LocalKeyWrapper(localSecretsKey(o.dataDir))),
    });
    setDeps(deps);
    stops.push(() => setDeps(undefined));
    // a sweep a finish woke may still run: let it end before the engines go
    stops.push(() => deps.placementWake.settled());
    await ensureAdmin(deps, o.adminKey);
    await ensureSystemAccounts(deps);

    const handlers: Record<RouteGroup, (e: APIGatewayProxyEvent, c: Context) => Promise<APIGatewayProxyResult>> = {
      accounts,
      agent,
      jobs,
      nodes,
      public: publicRoutes,
      secrets,
      governance: governanceRoutes,
      services: servicesRoutes,
    };
    // services' traffic, /s/<serviceId>/…: the routing tier in process (docs/services.md, Routing)
    const serviceRoutes = await localServiceRoutes({ db, tables, checker: settings.checker, log: o.log, wake: (id) => reconcileService(deps, id).then(() => undefined) });
    stops.push(() => serviceRoutes.close());
    const gateway = await startGateway({
      port: o.port,
      host: o.host ?? '127.0.0.1',
      handlers,
      authorize: (k) => authorize(deps, k),
      cacheTtlMs: o.cacheTtlMs,
      rateLimit: o.rateLimit === false ? undefined : (o.rateLimit ?? GENEROUS_RATE_LIMIT),
      agentRateLimit: o.agentRateLimit === false ? undefined : (o.agentRateLimit ?? GENEROUS_AGENT_RATE_LIMIT),
      // the web console's files, same origin as the API so it needs no CORS and no configured URL
      extraRoutes: [...consoleRoutes(o.consoleDir), ...serviceRoutes.routes],
    });
    stops.push(() => gateway.close());
    deps.settings.services = { ...deps.settings.services!, baseUrl: o.settings?.services?.baseUrl ?? gateway.url };
    const log = o.log ?? (() => undefined);
    const burst = startLocalBurst({ deps, db, table: tables.burst, apiUrl: gateway.url, options: o.burst, log });
    stops.push(() => burst.stop());

    const timers: Timer[] = [
      every(o.sweepMs ?? 1000, async () => {
        const placed = await sweep(deps);
        if (placed) log(`sweep placed ${placed} job(s)`);
      }),
      // services: every one not yet DELETED brought to what it wants (docs/services.md, Control plane)
      every(deps.settings.services!.tickSeconds * 1000, async () => {
        const r = await reconcileAll(deps);
        if (r.failed) log(`services: ${r.failed} of ${r.services} reconcile(s) failed`);
      }),
      every(o.reaperMs ?? 2000, async () => {
        const r = await reap(deps);
        if (r.nodesOffline || r.jobsEnded) log(`reaper: ${r.nodesOffline} node(s) offline, ${r.attemptsLost} attempt(s) lost, ${r.jobsEnded} job(s) past deadline`);
      }),
      // closes proposals' windows and enacts passed ones: at the demo pace, within 10 s of a vote closing
      every(o.governanceMs ?? LOCAL_GOVERNANCE.periodMs, async () => {
        const r = await runGovernance(deps);
        if (r.passed || r.rejected || r.enacted) log(`governance: ${r.passed} passed, ${r.rejected} rejected, ${r.enacted} enacted`);
      }),
      // the checker network: closes each epoch once its reports are in (quorum, scores, rewards)
      every(o.networkMs ?? 1_000, async () => {
        for (const r of await runNetworkEpochs(deps)) {
          if (r.nodes) log(`checker network: epoch ${r.epoch}: ${r.nodes} node(s), ${r.reports} report(s), ${r.byQuorum} by quorum (${r.failedByQuorum} failed), ${r.paid} paid${r.suspended.length ? `, suspended ${r.suspended.join(' ')}` : ''}`);
        }
      }),
      every(o.checkerMs ?? 5000, async () => {
        const r = await runChecker(deps);
        if (r.failed || r.degraded || r.recovered || r.quarantined || r.canariesJudged) {
          log(`checker: ${r.ok}/${r.probed} probes ok, ${r.degraded} degraded, ${r.recovered} recovered, ${r.quarantined} quarantined, ${r.canariesJudged} canaries judged`);
        }
      }),
    ];
    stops.push(() => Promise.all(timers.map((t) => t.stop())).then(() => undefined));

    // completion webhooks: the jobs table's stream and the retry queue, fed to the webhooks function's code
    const ports = webhookPorts(deps);
    const handle = (e: Parameters<typeof handleWebhookEvent>[1]) => handleWebhookEvent(ports, e);
    const jobStream = await startJobStream({ ddb: ddbClient, endpoint: ddb.endpoint, table: tables.jobs, handle, log });
    stops.push(() => jobStream.stop());
    const retries = startRetryPoller({ sqs: sqsClient, queueUrl: webhookQueueUrl, handle, log });
    stops.push(() => retries.stop());

    return { apiUrl: gateway.url, port: gateway.port, deps, ddbEndpoint: ddb.endpoint, sqsEndpoint: sqs.endpoint, s3Endpoint: s3.endpoint, burst, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
