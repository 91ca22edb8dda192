// A Lambda function's composition root: the one place its dependencies are built, from its own
// environment (what the CDK stack gave it), once per cold start. Each entry module makes its root and
// hands it to its handler; the local stack hands the same handlers a root of its own
// (lib/local/local-stack.ts). Adapters only some functions may use (KMS, API Gateway's keys) are passed
// by those functions, so the others' bundles carry neither the client nor the permission.
import type { AgentUsageKeysPort } from '../domain/agent-usage-keys-port';
import { metricsOn, sinkFromEnv } from '../observability/metrics';
import { makeDocClient, makeSqsClient } from '../store/clients';
import type { SecretCipher } from '../store/secret-cipher';
import { tableNamesFromEnv } from '../store/tables';
import { buildDeps, settingsFromEnv, type Deps } from '../usecases/deps';

/** How a handler reaches its dependencies: built on first use, the same object after. */
export type DepsRoot = () => Deps;

export interface LambdaAdapters {
  /** the functions granted the secrets key (lib/constructs/secrets-key.ts): functions/store/kms-cipher.ts */
  secretCipher?: (keyId: string, region: string) => SecretCipher;
  /** the nodes function (usage key per node): functions/store/api-gateway-usage-keys.ts */
  agentUsageKeys?: (plan: { planName: string; keyBase: string }, region: string) => AgentUsageKeysPort;
}

export function lambdaRoot(adapters: LambdaAdapters = {}, env: NodeJS.ProcessEnv = process.env): DepsRoot {
  let built: Deps | undefined;
  return () => {
    if (built) return built;
    const settings = settingsFromEnv(env);
    built = buildDeps({
      db: makeDocClient(),
      sqs: makeSqsClient(),
      tables: tableNamesFromEnv(env),
      settings,
      metrics: metricsOn(sinkFromEnv(env)),
      secretCipher: settings.secretsKeyId ? adapters.secretCipher?.(settings.secretsKeyId, settings.region) : undefined,
      agentUsageKeys: settings.agentUsageKeys ? adapters.agentUsageKeys?.(settings.agentUsageKeys, settings.region) : undefined,
    });
    return built;
  };
}
