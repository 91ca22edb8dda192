// The API Gateway Lambda authorizer (TOKEN type, identity source `x-api-key`). It resolves a key into
// {accountId, role, keyId, nodeId}; API Gateway caches the answer per key for the configured TTL, so a
// revoked key stops working within that TTL. The local gateway calls `authorize` directly.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import type { Caller } from '../domain/model';
import { ensureAdmin } from '../usecases/accounts';
import type { Deps } from '../usecases/deps';
import { lambdaRoot, type DepsRoot } from '../wiring/lambda-root';
import { usageKeyOf } from '../domain/usage-bucket';

let bootstrapped = false;

/** Reads the stack's bootstrap admin secret ({keyId, secret}) once and makes sure its key exists. */
async function bootstrapAdmin(d: Deps): Promise<boolean> {
  const arn = process.env.ADMIN_KEY_SECRET_ARN;
  if (bootstrapped || !arn) return false;
  bootstrapped = true;
  const r = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  const { keyId, secret } = JSON.parse(r.SecretString ?? '{}') as { keyId?: string; secret?: string };
  if (!keyId || !secret) return false;
  await ensureAdmin(d, `gp_${keyId}_${secret}`);
  return true;
}

export async function authorize(d: Deps, rawKey: string | undefined): Promise<Caller | undefined> {
  if (!rawKey || rawKey.length > 256) return undefined;
  const caller = await d.keys.resolve(rawKey);
  if (caller) return caller;
  return (await bootstrapAdmin(d)) ? d.keys.resolve(rawKey) : undefined;
}

/**
 * The usage key that meters this caller: node keys in the agent tier by their node id (USAGE_AGENT_KEY_BUCKETS
 * keys), every other key in the account tier by its account id (USAGE_KEY_BUCKETS keys). API Gateway caches
 * this answer per gpupool key, and a node key speaks for one node, so the choice never depends on the route.
 */
export function usageIdentifierKeyFor(caller: Caller, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env.USAGE_IDENTIFIER_KEY;
  if (!base) return undefined;
  return usageKeyOf(caller, base, { account: Number(env.USAGE_KEY_BUCKETS ?? 1), agent: Number(env.USAGE_AGENT_KEY_BUCKETS ?? 1) });
}

export const authorizerHandler = (root: DepsRoot) => async (event: APIGatewayTokenAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const caller = await authorize(root(), event.authorizationToken);
  // API Gateway turns this error into a 401 for the client
  if (!caller) throw new Error('Unauthorized');
  // the cached policy must cover every method of the API, not only the one first called
  const [arnBase, stage] = event.methodArn.split('/');
  const result: APIGatewayAuthorizerResult = {
    principalId: caller.accountId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${arnBase}/${stage}/*/*` }],
    },
    context: { accountId: caller.accountId, role: caller.role, keyId: caller.keyId, nodeId: caller.nodeId ?? '' },
  };
  const usageIdentifierKey = usageIdentifierKeyFor(caller);
  return usageIdentifierKey ? { ...result, usageIdentifierKey } : result;
};

export const handler = authorizerHandler(lambdaRoot());
