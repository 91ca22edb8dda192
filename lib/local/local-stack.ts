// The embedded local stack: DynamoDB Local, the in-process SQS server, the same Lambda handlers behind a
// local gateway, and the schedules on timers. `npm start` and the end-to-end tests both use this.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { authorize } from '../../functions/http/authorizer';
import { LOCAL_GOVERNANCE } from './governance-local';
import { EnvelopeCipher, LocalKeyWrapper, localSecretsKey } from '../../functions/store/secret-cipher';
import { makeDocClient } from '../../functions/store/clients';
import { ensureAdmin } from '../../functions/usecases/accounts';
import { ensureSystemAccounts } from '../../functions/usecases/ledger';
import { buildDeps, type Deps, type Settings } from '../../functions/usecases/deps';
import { reconcileService } from '../../functions/usecases/service-reconcile';
import type { CheckerSettings } from '../../functions/usecases/checker-settings';
import { tableNamesFor, createTables } from './create-tables';
import { startDynamoDbLocal } from './dynamodb-local';
import { localSettings } from './local-settings';
import type { StageConfig } from '../config';
import { consoleRoutes } from './console-static';
import { localServiceRoutes } from './service-routes';
import { startGateway } from './gateway';
import type { AgentRateLimitOptions, RateLimitOptions } from './rate-limit';
import { startSqsLocal } from './sqs-local';
import { startS3Local } from './s3-local';
import { makeS3Client, S3FileStorage } from '../../functions/store/files-store';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { localBurst, type LocalBurst, type LocalBurstOptions } from './burst-local';
import { localApiHandlers } from './api-handlers';
import { startScheduleTimers, type LocalPeriods } from './schedule-timers';
import { metricsOn, sinkFromEnv } from '../../functions/observability/metrics';
import { logger } from '../../functions/observability/logger';
import { startJobStream, startRetryPoller } from './job-stream';
import { webhooksHandler } from '../../functions/scheduled/webhooks';
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
  /** ms between governance runs (close windows, enact, close the checker network's epochs). @default LOCAL_GOVERNANCE.periodMs */
  governanceMs?: number;
  /** ms between ledger audits (hourly on AWS). @default 60000 */
  auditMs?: number;
  /** overrides of the checker's local settings (canaryRate defaults to 0 here: set it to send canaries) */
  checker?: Partial<CheckerSettings>;
  /** overrides of the webhook settings (tests shorten retryDelaysSeconds) */
  webhooks?: Partial<WebhookSettings>;
  /** overrides of the control plane's settings (heartbeats, deadlines, queues) */
  settings?: Partial<Settings>;
  /** the stage `npm start` stands in for: cdk.json's, read by bin/ (its ledger and checker network pay); absent: the functions' defaults */
  stage?: StageConfig;
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
  /** with options.burst, the fake EC2 */
  burst: LocalBurst;
  /** the schedules running on timers (functions/scheduled/schedules.ts) */
  schedules: string[];
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
  // the terminal (npm start, the bench) gets the stack's one-line summaries; the functions' JSON log lines,
  // as CloudWatch would get them, only from warnings up unless asked for (POWERTOOLS_LOG_LEVEL=INFO)
  if (!process.env.POWERTOOLS_LOG_LEVEL) logger.setLogLevel('WARN');
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
    // what every handler reads, through the environment a deployed function reads (lib/local/local-settings.ts)
    const { settings } = localSettings({
      stage: o.stage,
      engines: { region, nodeDlqArn: `arn:aws:sqs:${region}:123456789012:gpupool-node-dlq`, sqsEndpoint: sqs.endpoint, webhookQueueUrl, files: { bucket: s3.bucket, endpoint: s3.endpoint } },
      checkerMs: o.checkerMs,
      settings: o.settings,
      checker: o.checker,
      webhooks: o.webhooks,
      signingSecret: localSigningSecret(o.dataDir),
    });
    const db = makeDocClient(ddbClient);
    const deps = buildDeps({
      db,
      sqs: sqsClient,
      tables,
      settings,
      files: new S3FileStorage(makeS3Client({ bucket: s3.bucket, endpoint: s3.endpoint, region, credentials: s3.credentials }), s3.bucket),
      // secrets are sealed under a key kept 0600 in the data dir (.gpupool/secrets.key), or held in memory
      secretCipher: new EnvelopeCipher(new LocalKeyWrapper(localSecretsKey(o.dataDir))),
      // off unless POWERTOOLS_METRICS_NAMESPACE is set, as on Lambda
      metrics: metricsOn(sinkFromEnv()),
    });
    // a sweep a finish woke may still run: let it end before the engines go
    stops.push(() => deps.placementWake.settled());
    await ensureAdmin(deps, o.adminKey);
    await ensureSystemAccounts(deps);

    // the local stack's composition root: every function's handlers get the same deps, built above
    const root = () => deps;
    const handlers = localApiHandlers(root);
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
    const burst = localBurst({ deps, apiUrl: gateway.url, options: o.burst, log });
    stops.push(() => burst.stop());

    // the schedules of functions/scheduled/schedules.ts on timers, through the same handlers as on AWS
    const periods: LocalPeriods = { sweepMs: o.sweepMs, reaperMs: o.reaperMs, checkerMs: o.checkerMs, governanceMs: o.governanceMs ?? LOCAL_GOVERNANCE.periodMs, auditMs: o.auditMs, burstMs: o.burst?.tickMs };
    const schedules = startScheduleTimers({ root, burst: burst.burst ? () => burst.burst! : undefined, periods, log });
    stops.push(() => schedules.stop());

    // completion webhooks: the jobs table's stream and the retry queue, fed to the webhooks function's code
    const handle = webhooksHandler(root);
    const jobStream = await startJobStream({ ddb: ddbClient, endpoint: ddb.endpoint, table: tables.jobs, handle, log });
    stops.push(() => jobStream.stop());
    const retries = startRetryPoller({ sqs: sqsClient, queueUrl: webhookQueueUrl, handle, log });
    stops.push(() => retries.stop());

    return { apiUrl: gateway.url, port: gateway.port, deps, schedules: schedules.names, ddbEndpoint: ddb.endpoint, sqsEndpoint: sqs.endpoint, s3Endpoint: s3.endpoint, burst, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
