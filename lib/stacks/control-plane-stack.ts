// Stateless resources: functions, the API, the schedules, the agent role and the bootstrap admin
// key. It takes the data stack's tables and DLQ as props and only wires constructs together; the
// grant matrix below is the one place that says which function may touch which table.
import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ROUTE_GROUPS, type RouteGroup } from '../../functions/http/routes';
import { SHARDS, type TableId } from '../../functions/store/tables';
import { serviceName } from '../../functions/observability/metric-names';
import type { StageConfig } from '../config';
import { envNameOf, settingsToEnv } from '../../functions/settings/env';
import { stageSettings } from '../stage-settings';
import { AgentQueueRole } from '../constructs/agent-queue-role';
import { Checker } from '../constructs/checker';
import { Burst } from '../constructs/burst';
import type { BurstSettings } from '../../functions/domain/burst/settings';
import { GpupoolApi, usageIdentifierKeyValue } from '../constructs/api';
import { grantNodeUsageKeys } from '../constructs/node-usage-keys';
import { type FunctionKind, NodeFunction } from '../constructs/node-function';
import { Observability } from '../constructs/observability';
import { Schedules } from '../constructs/schedules';
import { SCHEDULES, scheduleNamed, type Schedule, type ScheduledFunction } from '../../functions/scheduled/schedules';
import { WakeQueue } from '../constructs/wake-queue';
import { Webhooks } from '../constructs/webhooks';
import { SecretsKey } from '../constructs/secrets-key';
import { FilesBucket } from '../constructs/files-bucket';
import type { TableRefs } from '../constructs/tables';

/** The bootstrap admin key's id: fixed, so operators know what to revoke (DELETE /v1/keys/bootstrapadmin). */
export const ADMIN_KEY_ID = 'bootstrapadmin';

export type FunctionName = RouteGroup | 'authorizer' | 'sweep' | 'reaper' | 'checker' | 'webhooks' | 'audit' | 'enactment' | 'serviceTick';
type Grants = Partial<Record<TableId, 'read' | 'write'>>;

/**
 * Which table each function may read or write. Every function still gets every TABLE_* name
 * (the store reads all names at start); a table missing here is name-only: no grant.
 */
const OWN_GRANTS: Readonly<Record<Exclude<FunctionName, 'governance' | 'enactment'>, Grants>> = {
  // resolves a key to account and role (a node key also to its node); on the first unknown key
  // it seeds the bootstrap admin account and key from the secret (conditional puts)
  authorizer: { keys: 'write', accounts: 'write', nodes: 'read' },
  public: {},
  // accounts, keys, minting and statements; reads jobs and nodes for the balance's held and staked parts
  accounts: { accounts: 'write', keys: 'write', idempotency: 'write', jobs: 'read', nodes: 'read', webhooks: 'write', ledger: 'write' },
  // submit matches inline: claims a node and holds escrow in one transaction; a replicated job's answer
  // may decide its verdict (scores: verify#<group>), which can quarantine and slash a node
  // files: a consumer's uploads, and the claim each submit makes on the files it names (docs/data.md, Files)
  jobs: { jobs: 'write', nodes: 'write', accounts: 'write', idempotency: 'write', logs: 'read', webhooks: 'read', ledger: 'write', scores: 'write', secrets: 'read', files: 'write' },
  // register issues a node key; stake moves credits; deregister re-queues the node's jobs; reads scores
  nodes: { nodes: 'write', keys: 'write', accounts: 'write', jobs: 'write', idempotency: 'write', scores: 'read', ledger: 'write', burst: 'read' },
  // start, heartbeat, logs, finish: attempt and node state, output lines, settlement; a replica's finish
  // stores its result and the last one decides the verdict (scores: verify#<group>, quarantine, slash)
  // a replica's readiness change reconciles its service inline (services: the item; replicas: jobs)
  agent: { nodes: 'write', jobs: 'write', logs: 'write', accounts: 'write', idempotency: 'write', ledger: 'write', scores: 'write', secrets: 'read', services: 'write' },
  sweep: { jobs: 'write', nodes: 'write', accounts: 'write', ledger: 'write' },
  reaper: { jobs: 'write', nodes: 'write', accounts: 'write', ledger: 'write' },
  // recomputes balances from entries: reads both, writes nothing
  audit: { ledger: 'read', accounts: 'read' },
  // probes: scores and node reputation; canaries: submits (jobs, nodes, the system account), reads their
  // logs; quarantine: re-queues the node's jobs
  // completion webhooks: reads the ended job; claims and records delivery attempts, creates account secrets
  webhooks: { jobs: 'read', webhooks: 'write' },
  // a consumer's secrets: sealed values and their count (the KMS key: lib/constructs/secrets-key.ts)
  secrets: { secrets: 'write' },
  checker: { scores: 'write', nodes: 'write', jobs: 'write', accounts: 'write', logs: 'read', ledger: 'write' },
  // services (docs/services.md): the service items; replicas are jobs created under the account's limits
  // (accounts), placed inline (nodes, escrow holds: ledger) and retired (cancel); a create checks the
  // secrets it names exist (secrets: read, never the key)
  services: { services: 'write', jobs: 'write', nodes: 'write', accounts: 'write', ledger: 'write', idempotency: 'write', secrets: 'read' },
  // the reconciler's tick: the same writes as the API's inline pass, no request to make idempotent
  serviceTick: { services: 'write', jobs: 'write', nodes: 'write', accounts: 'write', ledger: 'write' },
};

/** Functions that settle or slash read the parameters in force (fee, reward share, slash: docs/governance.md). */
const PARAMETER_READERS = ['jobs', 'nodes', 'agent', 'sweep', 'reaper', 'checker', 'services', 'serviceTick'] as const;
export const TABLE_GRANTS: Readonly<Record<FunctionName, Grants>> = {
  ...OWN_GRANTS,
  ...Object.fromEntries(PARAMETER_READERS.map((n) => [n, { ...OWN_GRANTS[n], governance: 'read' }])),
  // licenses and proposals; a vote's weight reads the voter's stake back from the ledger; the checker
  // network's assignments and reports read the watched nodes (docs/checkers.md, The checker network)
  governance: { governance: 'write', accounts: 'read', ledger: 'read', nodes: 'read' },
  // the operator's baseline results for the checker network's epochs (governance table)
  checker: { ...OWN_GRANTS.checker, governance: 'write' },
  // closes voting windows, enacts passed proposals; closes the checker network's epochs: verdicts by quorum
  // (a failed node is quarantined as the checker would: scores, nodes, jobs), rewards and penalties
  // (ledger, accounts), suspensions (governance)
  enactment: { governance: 'write', scores: 'write', nodes: 'write', jobs: 'write', accounts: 'write', ledger: 'write' },
};

/** SQS actions on the per-node queues (`${prefix}*`), per function; absent: none. */
const QUEUE_MANAGEMENT = ['CreateQueue', 'DeleteQueue', 'GetQueueAttributes', 'GetQueueUrl', 'SendMessage', 'SetQueueAttributes', 'TagQueue'];
export const QUEUE_GRANTS: Readonly<Partial<Record<FunctionName, readonly string[]>>> = {
  nodes: QUEUE_MANAGEMENT, // creates the queue on register, deletes it on deregister
  agent: QUEUE_MANAGEMENT, // the session answer (re)creates a missing queue
  jobs: ['GetQueueUrl', 'SendMessage'], // inline dispatch and cancel
  sweep: ['GetQueueUrl', 'SendMessage'],
  reaper: ['GetQueueUrl', 'SendMessage'],
  checker: ['GetQueueUrl', 'SendMessage'], // canary dispatch, re-placement after a quarantine
  enactment: ['GetQueueUrl', 'SendMessage'], // re-placement after a quarantine by the network's quorum
  services: ['GetQueueUrl', 'SendMessage'], // a replica's inline dispatch, a retirement's cancel
  serviceTick: ['GetQueueUrl', 'SendMessage'],
};

export interface ControlPlaneStackProps extends StackProps {
  readonly config: StageConfig;
  readonly tables: TableRefs;
  readonly nodeDlq: sqs.IQueue;
  /** burst capacity on EC2 (docs/burst.md); off unless `enabled` */
  readonly burst?: BurstSettings;
  /** where the routing tier answers (lib/router-settings.ts servicesBaseUrl); '' shows no service url */
  readonly servicesBaseUrl?: string;
}

export class ControlPlaneStack extends Stack {
  public readonly functions: Readonly<Record<FunctionName, NodeFunction>>;
  public readonly api: GpupoolApi;
  public readonly agentRole: AgentQueueRole;
  public readonly adminKey: secretsmanager.Secret;
  public readonly checker: Checker;
  public readonly webhooks: Webhooks;
  public readonly observability: Observability;
  public readonly secretsKey: SecretsKey;
  public readonly files: FilesBucket;
  public readonly serviceWake: WakeQueue;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const { config, tables } = props;

    const make = (name: FunctionName, entry: string, kind: FunctionKind, description: string) => {
      const fn = new NodeFunction(this, `${name[0].toUpperCase()}${name.slice(1)}Handler`, {
        entry,
        kind,
        description,
        memoryMb: config.functionMemoryMb,
        logRetentionDays: config.logRetentionDays,
        serviceName: serviceName(config.stage),
        environment: functionEnvironment(config, props.nodeDlq.queueArn, props.servicesBaseUrl),
        // the public function also serves the bundled agent that install.sh downloads, and the bundled CLI
        ...(name === 'public'
          ? {
              afterBundling: (input: string, output: string) => [
                `npx tsx "${input}/scripts/build-agent.ts" --outfile "${output}/gpupool-agent.mjs"`,
                `npx tsx "${input}/scripts/build-cli.ts" --outfile "${output}/gpupool.mjs"`,
                // and the bundled checker install-checker.sh downloads (docs/checkers.md, Running a checker)
                `npx tsx "${input}/scripts/build-checker.ts" --outfile "${output}/gpupool-checker.mjs"`,
              ],
            }
          : {}),
      }).bindTables(tables, TABLE_GRANTS[name]);
      const queueActions = QUEUE_GRANTS[name];
      if (queueActions) fn.allowNodeQueues(config.nodeQueuePrefix, queueActions);
      return fn;
    };

    const groups = Object.fromEntries(
      ROUTE_GROUPS.map((g) => [g, make(g, `functions/http/${g}.ts`, 'api', `gpupool API: ${g} routes`)]),
    ) as Record<RouteGroup, NodeFunction>;
    const fns: Record<FunctionName, NodeFunction> = {
      ...groups,
      authorizer: make('authorizer', 'functions/http/authorizer.ts', 'api', 'gpupool API key authorizer'),
      // the functions of the schedule table (functions/scheduled/schedules.ts); burst has its own construct
      ...(Object.fromEntries(
        SCHEDULES.filter((s) => !s.onlyWithBurst).map((s) => [s.fn, make(s.fn as FunctionName, s.entry, 'scheduled', s.description)]),
      ) as Record<Exclude<ScheduledFunction, 'burst'>, NodeFunction>),
      webhooks: make('webhooks', 'functions/scheduled/webhooks.ts', 'scheduled', 'gpupool webhooks: POST ended jobs to their webhook, retry with backoff'),
    };
    this.functions = fns;
    // one invocation a minute makes a pass every 5 s for its minute (functions/scheduled/reaper.ts), so a
    // dead node is written off within 5 s of its deadline (docs/failure-handling.md has the arithmetic)
    fns.reaper.fn.addEnvironment('REAPER_PASS_SECONDS', '5');
    fns.reaper.fn.addEnvironment('REAPER_WINDOW_SECONDS', String(60 * config.reaperRateMinutes));

    // {"keyId": "bootstrapadmin", "secret": <48 letters and digits>}: the admin key is gp_<keyId>_<secret>
    this.adminKey = new secretsmanager.Secret(this, 'AdminKey', {
      description: `gpupool ${config.stage}: bootstrap admin API key, as {keyId, secret}; the key is gp_<keyId>_<secret>`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ keyId: ADMIN_KEY_ID }),
        generateStringKey: 'secret',
        passwordLength: 48,
        excludePunctuation: true,
        includeSpace: false,
      },
    });
    Validations.of(this.adminKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The bootstrap admin key is used once to create real admin keys, which are revoked and reissued through the API; rotating it here would not revoke the hashed copy the control plane stores. docs/deploy.md says to revoke it after bootstrap.',
    });
    // the authorizer seeds the key (hashed) when it first meets an unknown key; accounts reads it too
    fns.accounts.bindSecret(this.adminKey, 'ADMIN_KEY_SECRET_ARN');
    fns.authorizer.bindSecret(this.adminKey, 'ADMIN_KEY_SECRET_ARN');

    const usageIdentifierKey = usageIdentifierKeyValue();
    fns.authorizer.addEnvironment(envNameOf('agentUsageKeys.keyBase'), usageIdentifierKey);
    fns.authorizer.addEnvironment('USAGE_KEY_BUCKETS', String(config.usageKeyBuckets));
    fns.authorizer.addEnvironment('USAGE_AGENT_KEY_BUCKETS', String(config.agentUsageKeyBuckets));

    this.agentRole = new AgentQueueRole(this, 'AgentQueueRole', { nodeQueuePrefix: config.nodeQueuePrefix, assumedBy: fns.agent.role });
    fns.agent.allowAssumeRole(this.agentRole.role, envNameOf('agentRoleArn'));

    this.api = new GpupoolApi(this, 'Http', {
      stageName: config.stage,
      handlers: Object.fromEntries(ROUTE_GROUPS.map((g) => [g, fns[g].fn])) as Record<RouteGroup, NodeFunction['fn']>,
      authorizer: fns.authorizer.fn,
      authorizerCacheTtl: Duration.seconds(config.authorizerCacheTtlSeconds),
      usagePlan: config.usagePlan,
      usageIdentifierKey,
      usageKeyBuckets: config.usageKeyBuckets,
      agentUsagePlan: config.agentUsagePlan,
      agentUsageKeyBuckets: config.agentUsageKeyBuckets,
      logRetentionDays: config.logRetentionDays,
    });

    // each node its provider registers gets a usage key of its own (functions/usecases/agent-usage-keys.ts)
    if (config.agentUsageKeyPerNode) grantNodeUsageKeys(fns.nodes, usageIdentifierKey);

    // the schedule table's rules (functions/scheduled/schedules.ts); the checker's per-shard rules are the
    // Checker construct's, burst's the Burst construct's
    const rate = (r: Schedule['rateMinutes']) => (typeof r === 'number' ? r : r === 'burst' ? (props.burst?.rateMinutes ?? 1) : config[r]);
    new Schedules(this, 'Schedules', {
      jobs: SCHEDULES.filter((s) => !s.perShard && !s.onlyWithBurst).map((s) => ({ name: s.name, description: s.description, fn: fns[s.fn as FunctionName].fn, rateMinutes: rate(s.rateMinutes) })),
    });

    // freed capacity wakes the sweep through a queue instead of placing inline (functions/usecases/placement-wake.ts):
    // the agent API (finish, session) and the accounts API (stake that brings nodes online); services retiring replicas
    new WakeQueue(this, 'PlacementWake', {
      consumer: fns.sweep,
      senders: { functions: [fns.agent, fns.accounts, fns.services, fns.serviceTick], urlEnv: envNameOf('placementQueueUrl') },
      fallback: 'the scheduled sweep places the jobs within its period',
    });
    // a routing tier (its own stack) wakes the services' reconciler when a service outgrows its replicas
    this.serviceWake = new WakeQueue(this, 'ServiceWake', { consumer: fns.serviceTick, fallback: 'the one-minute tick reconciles the service' });

    // consumers' secrets: the secrets function seals, the agent function opens at an attempt's start, nobody else
    this.secretsKey = new SecretsKey(this, 'SecretsKey', { sealer: fns.secrets, opener: fns.agent, stage: config.stage });

    // files, outputs and checkpoints (docs/data.md): only the two functions that presign may touch the bucket
    this.files = new FilesBucket(this, 'Files', {
      jobsApi: fns.jobs,
      agentApi: fns.agent,
      outputsExpireDays: config.outputsExpireDays,
      uploadsExpireDays: config.uploadsExpireDays,
    });

    // signs probes (checker) and hands its public key to agents in their session answer (agent API)
    // the governance function hands out probes signed with it (the checker network's assignments)
    // and the governance schedule's function closes the network's epochs with it (their assignment secret)
    this.checker = new Checker(this, 'Checker', { checker: fns.checker, publishers: [fns.agent, fns.governance, fns.enactment], shards: SHARDS, stage: config.stage, rateMinutes: rate(scheduleNamed('Checker').rateMinutes) });

    // the jobs table's stream and a retry queue feed the webhooks function (docs/webhooks.md)
    this.webhooks = new Webhooks(this, 'Webhooks', { fn: fns.webhooks, jobsTable: tables.jobs.table });

    // the operator's dashboard and alarms (docs/operations.md)
    this.observability = new Observability(this, 'Observability', {
      serviceName: serviceName(config.stage),
      stage: config.stage,
      api: this.api.api,
      nodeDlq: props.nodeDlq,
      sweep: fns.sweep.fn,
      alarmEmail: config.alarmEmail,
    });
    new CfnOutput(this, 'DashboardName', { value: this.observability.dashboard.dashboardName, description: 'CloudWatch dashboard of this stage' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.observability.topic.topicArn, description: 'SNS topic every gpupool alarm notifies' });

    // burst capacity on EC2 (off by default): its own function, schedule, instance profile and IAM boundary
    if (props.burst?.enabled) {
      new Burst(this, 'Burst', {
        settings: props.burst,
        stage: config.stage,
        tables,
        apiUrl: this.api.api.url,
        // the same settings as every other function: burst re-queues and settles jobs too
        environment: functionEnvironment(config, props.nodeDlq.queueArn, props.servicesBaseUrl),
        nodeQueuePrefix: config.nodeQueuePrefix,
        logRetentionDays: config.logRetentionDays,
        memoryMb: config.functionMemoryMb,
      });
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'gpupool API base URL (GPUPOOL_API_URL)' });
    new CfnOutput(this, 'AdminKeySecretArn', {
      value: this.adminKey.secretArn,
      description: 'Secrets Manager secret holding the bootstrap admin key: aws secretsmanager get-secret-value --secret-id <this>',
    });
    new CfnOutput(this, 'AgentRoleArn', { value: this.agentRole.role.roleArn, description: 'role agents receive queue credentials from' });
  }
}

/** What every function of the stage reads from its environment: the stage's settings (lib/stage-settings.ts) written by the settings table (functions/settings). */
export function functionEnvironment(config: StageConfig, nodeDlqArn: string, servicesBaseUrl = ''): Record<string, string> {
  return settingsToEnv(stageSettings(config, { nodeDlqArn, servicesBaseUrl }));
}
