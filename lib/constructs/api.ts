// The REST API: one resource tree built from ROUTES, each route group on its own function, a
// Lambda authorizer in front of every keyed route, two usage plans (accounts; agents), access logs,
// problem+json errors.
import { Aws, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES, type Route, type RouteGroup } from '../../functions/http/routes';
import type { AgentUsagePlanTier, UsagePlanTier } from '../config';
import { retentionDays } from './node-function';
import { addProblemResponses } from './problem-responses';

/** Served by the public function but outside /v1: the agent's install script and the web console. */
export const GATEWAY_EXTRA_ROUTES: readonly Route[] = [
  { method: 'GET', path: '/install.sh', group: 'public', roles: [] },
  { method: 'GET', path: '/console', group: 'public', roles: [] },
];

/** ROUTES plus the extra public routes, each method and path once. */
export function gatewayRoutes(routes: readonly Route[] = ROUTES): readonly Route[] {
  const key = (r: Route) => `${r.method} ${r.path}`;
  const seen = new Set(routes.map(key));
  return [...routes, ...GATEWAY_EXTRA_ROUTES.filter((r) => !seen.has(key(r)))];
}

/** The header clients send their gpupool key in. */
export const API_KEY_HEADER = 'x-api-key';

/**
 * The usage-plan key's value. With apiKeySource AUTHORIZER clients never send it (their x-api-key
 * is a gpupool key, checked by the authorizer); the authorizer returns it as usageIdentifierKey to
 * put the caller in the plan. It is an identifier, not a credential, so it is derived from the
 * stack's own id (unique per stack, made by CloudFormation) and handed to the authorizer as an
 * env var: no secret to read on the authorizer's hot path.
 */
/** The agent tier's usage plan name: the nodes function looks its id up by it (lib/constructs/node-usage-keys.ts). */
export const agentUsagePlanName = (stackName: string) => `${stackName}-agent-tier`;

export function usageIdentifierKeyValue(): string {
  return Fn.join('', ['gpupool-usage-', Fn.select(2, Fn.split('/', Aws.STACK_ID))]);
}

export interface GpupoolApiProps {
  /** API Gateway stage name (the first path segment of the URL) */
  readonly stageName: string;
  /** the function behind each route group */
  readonly handlers: Readonly<Record<RouteGroup, lambda.IFunction>>;
  /** TOKEN authorizer: receives the x-api-key value as authorizationToken */
  readonly authorizer: lambda.IFunction;
  /** 0..60 s: also how long a revoked key may still pass */
  readonly authorizerCacheTtl: Duration;
  readonly usagePlan: UsagePlanTier;
  /** the base of the values the authorizer returns as usageIdentifierKey: see usageIdentifierKeyValue() */
  readonly usageIdentifierKey: string;
  /** how many usage keys share the tier (accounts hash into them); each gets the tier's rate and quota */
  readonly usageKeyBuckets: number;
  /** the agent tier: node keys only, so no account's traffic can throttle a node's heartbeats */
  readonly agentUsagePlan: AgentUsagePlanTier;
  /** how many usage keys share the agent tier (nodes hash into them by node id); each gets its rate */
  readonly agentUsageKeyBuckets: number;
  readonly logRetentionDays: number;
  /** @default gatewayRoutes() */
  readonly routes?: readonly Route[];
}

export class GpupoolApi extends Construct {
  public readonly api: apigw.RestApi;
  public readonly usagePlan: apigw.UsagePlan;
  /** one usage key per bucket; the authorizer puts each account in one by a hash of its id */
  public readonly apiKeys: apigw.IApiKey[];
  /** the agent tier's plan: node keys only (the authorizer chooses its keys for role `node`) */
  public readonly agentUsagePlan: apigw.UsagePlan;
  /** one usage key per agent bucket; the authorizer puts each node in one by a hash of its node id */
  public readonly agentApiKeys: apigw.IApiKey[];
  /** `METHOD /path` → method, for tests and for later per-route settings */
  public readonly methods: ReadonlyMap<string, apigw.Method>;

  constructor(scope: Construct, id: string, props: GpupoolApiProps) {
    super(scope, id);
    const ttl = props.authorizerCacheTtl.toSeconds();
    if (ttl < 0 || ttl > 60) throw new Error(`${id}: authorizerCacheTtl must be 0..60 s (it bounds key revocation)`);

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: retentionDays(props.logRetentionDays) });
    this.api = new apigw.RestApi(this, 'Api', {
      description: `gpupool control plane (${props.stageName})`,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      apiKeySourceType: apigw.ApiKeySourceType.AUTHORIZER,
      // execution logging (errors only) needs API Gateway's account-level CloudWatch role
      cloudWatchRole: true,
      deployOptions: {
        stageName: props.stageName,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: accessLogFormat(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        // X-Ray: the stage starts the trace that the functions' active tracing continues
        tracingEnabled: true,
      },
    });
    addProblemResponses(this.api);
    this.acknowledgeApiFindings();

    const authorizer = new apigw.TokenAuthorizer(this, 'KeyAuthorizer', {
      handler: props.authorizer,
      identitySource: apigw.IdentitySource.header(API_KEY_HEADER),
      resultsCacheTtl: props.authorizerCacheTtl,
    });
    const validator = this.api.addRequestValidator('Validator', { validateRequestBody: true, validateRequestParameters: true });
    this.methods = this.addRoutes(props.routes ?? gatewayRoutes(), props.handlers, authorizer, validator);

    this.usagePlan = this.api.addUsagePlan('DefaultTier', {
      description: 'gpupool default tier: every key the authorizer resolves is metered here',
      throttle: { rateLimit: props.usagePlan.rateLimit, burstLimit: props.usagePlan.burstLimit },
      quota: { limit: props.usagePlan.quotaPerDay, period: apigw.Period.DAY },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    this.apiKeys = Array.from({ length: props.usageKeyBuckets }, (_, i) => {
      const key = new apigw.ApiKey(this, `DefaultTierKey${i}`, {
        description: `usage bucket ${i} of the default tier (returned by the authorizer, never sent by clients)`,
        value: Fn.join('', [props.usageIdentifierKey, `-${i}`]),
        enabled: true,
      });
      this.usagePlan.addApiKey(key, { overrideLogicalId: `DefaultTierUsageKey${i}` });
      return key;
    });

    // Agents never share a usage key with accounts: a consumer's burst cannot throttle heartbeats into a
    // write-off. No quota: one flooding node could spend it and shut its bucket's nodes out for the day.
    this.agentUsagePlan = this.api.addUsagePlan('AgentTier', {
      // named, so the nodes function finds it by name: a Ref from its environment would be a cycle (the plan
      // needs the stage, the stage the deployment, the deployment the methods, the methods the function)
      name: agentUsagePlanName(Stack.of(this).stackName),
      description: 'gpupool agent tier: node keys only, metered by node (the authorizer hashes node ids into its keys)',
      throttle: { rateLimit: props.agentUsagePlan.rateLimit, burstLimit: props.agentUsagePlan.burstLimit },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    this.agentApiKeys = Array.from({ length: props.agentUsageKeyBuckets }, (_, i) => {
      const key = new apigw.ApiKey(this, `AgentTierKey${i}`, {
        description: `usage bucket ${i} of the agent tier (returned by the authorizer for node keys, never sent by clients)`,
        value: Fn.join('', [props.usageIdentifierKey, `-agent-${i}`]),
        enabled: true,
      });
      this.agentUsagePlan.addApiKey(key, { overrideLogicalId: `AgentTierUsageKey${i}` });
      return key;
    });
  }

  private addRoutes(
    routes: readonly Route[],
    handlers: GpupoolApiProps['handlers'],
    authorizer: apigw.IAuthorizer,
    validator: apigw.IRequestValidator,
  ): ReadonlyMap<string, apigw.Method> {
    // One permission per function for this API instead of one per method: fewer resources, same reach.
    const integrations = new Map<RouteGroup, apigw.LambdaIntegration>();
    const integrationFor = (g: RouteGroup) => {
      if (!integrations.has(g)) integrations.set(g, new apigw.LambdaIntegration(handlers[g], { scopePermissionToMethod: false }));
      return integrations.get(g)!;
    };
    const methods = new Map<string, apigw.Method>();
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      if (methods.has(key)) throw new Error(`duplicate route ${key}`);
      const isPublic = route.roles.length === 0;
      const method = this.api.root.resourceForPath(route.path).addMethod(route.method, integrationFor(route.group), {
        authorizationType: isPublic ? apigw.AuthorizationType.NONE : apigw.AuthorizationType.CUSTOM,
        authorizer: isPublic ? undefined : authorizer,
        apiKeyRequired: !isPublic,
        requestValidator: validator,
        requestParameters: pathParameters(route.path),
      });
      if (isPublic) {
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `${key} is public by design (liveness, the OpenAPI document, the agent install script, the console shell): it reads no account data.`,
        });
      }
      methods.set(key, method);
    }
    return methods;
  }

  private acknowledgeApiFindings(): void {
    const v = Validations.of(this);
    v.acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Callers are machines and CLIs holding gpupool API keys, not Cognito users; every keyed method uses the Lambda authorizer, which resolves the key to account and role.',
    });
    v.acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'No WAF web ACL by default: a web ACL costs a fixed monthly fee per stage, and per-key throttling and quotas already come from the usage plan. Operators who want one associate it with the stage (docs/deploy.md).',
    });
    v.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: "API Gateway's account-level logging role: the AWS-managed policy is the documented way to let API Gateway write execution logs.",
    });
  }
}

/** `{id}` segments become required path parameters, so the request validator checks them. */
function pathParameters(path: string): Record<string, boolean> | undefined {
  const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  return names.length === 0 ? undefined : Object.fromEntries(names.map((n) => [`method.request.path.${n}`, true]));
}

/** One JSON line per request: who (account, usage key id), what, how long, and why it failed. */
function accessLogFormat(): apigw.AccessLogFormat {
  const f = apigw.AccessLogField;
  return apigw.AccessLogFormat.custom(
    JSON.stringify({
      requestId: f.contextRequestId(),
      time: f.contextRequestTimeEpoch(),
      ip: f.contextIdentitySourceIp(),
      method: f.contextHttpMethod(),
      resource: f.contextResourcePath(),
      path: f.contextPath(),
      status: f.contextStatus(),
      responseLength: f.contextResponseLength(),
      latencyMs: f.contextResponseLatency(),
      integrationLatencyMs: f.contextIntegrationLatency(),
      accountId: f.contextAuthorizer('accountId'),
      role: f.contextAuthorizer('role'),
      // a node key's node: who floods the agent tier, to quarantine it or revoke its key
      nodeId: f.contextAuthorizer('nodeId'),
      usageKeyId: f.contextIdentityApiKeyId(),
      error: f.contextErrorMessage(),
      authorizerError: f.contextAuthorizerError(),
      userAgent: f.contextIdentityUserAgent(),
    }),
  );
}
