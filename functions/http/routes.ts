// Every route of the HTTP API, once. The CDK stack builds API Gateway resources from this list and the
// local gateway routes with it; each group is one Lambda function (functions/http/<group>.ts).
import type { Role } from '../domain/model';

export type RouteGroup = 'accounts' | 'jobs' | 'nodes' | 'agent' | 'public' | 'secrets' | 'governance' | 'services';
export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** API Gateway resource path, with {param} placeholders */
  path: string;
  group: RouteGroup;
  /** roles allowed at the gateway; the domain checks ownership again. Empty: no key needed. */
  roles: readonly Role[];
}

const ANY_USER: readonly Role[] = ['admin', 'consumer', 'provider'];
const ADMIN_SELF: readonly Role[] = ['admin', 'consumer', 'provider'];

export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/v1/health', group: 'public', roles: [] },
  { method: 'GET', path: '/v1/openapi.json', group: 'public', roles: [] },
  { method: 'GET', path: '/install.sh', group: 'public', roles: [] },
  { method: 'GET', path: '/agent/gpupool-agent.mjs', group: 'public', roles: [] },
  { method: 'GET', path: '/agent/gpupool-agent.mjs.sha256', group: 'public', roles: [] },
  { method: 'GET', path: '/cli/gpupool.mjs', group: 'public', roles: [] },
  // the checker host's files: install.sh, gpupool-checker.mjs, gpupool-checker.mjs.sha256
  { method: 'GET', path: '/checker/{file}', group: 'public', roles: [] },
  { method: 'GET', path: '/console', group: 'public', roles: [] },

  { method: 'POST', path: '/v1/accounts', group: 'accounts', roles: ['admin'] },
  { method: 'GET', path: '/v1/accounts/{id}', group: 'accounts', roles: ADMIN_SELF },
  { method: 'POST', path: '/v1/accounts/{id}/keys', group: 'accounts', roles: ADMIN_SELF },
  { method: 'GET', path: '/v1/accounts/{id}/keys', group: 'accounts', roles: ADMIN_SELF },
  { method: 'DELETE', path: '/v1/keys/{keyId}', group: 'accounts', roles: ADMIN_SELF },
  { method: 'GET', path: '/v1/accounts/{id}/webhook-secret', group: 'accounts', roles: ADMIN_SELF },
  { method: 'POST', path: '/v1/accounts/{id}/webhook-secret', group: 'accounts', roles: ADMIN_SELF },
  { method: 'POST', path: '/v1/accounts/{id}/credits', group: 'accounts', roles: ['admin'] },
  // per-account limits (docs/scheduling.md): the account reads its own, only an admin sets them
  { method: 'GET', path: '/v1/accounts/{id}/limits', group: 'accounts', roles: ADMIN_SELF },
  { method: 'PATCH', path: '/v1/accounts/{id}/limits', group: 'accounts', roles: ['admin'] },
  { method: 'GET', path: '/v1/balance', group: 'accounts', roles: ANY_USER },
  { method: 'GET', path: '/v1/accounts/{id}/entries', group: 'accounts', roles: ADMIN_SELF },
  { method: 'GET', path: '/v1/ledger/audit', group: 'accounts', roles: ['admin'] },
  { method: 'POST', path: '/v1/stake', group: 'accounts', roles: ['provider'] },
  { method: 'POST', path: '/v1/unstake', group: 'accounts', roles: ['provider'] },

  { method: 'POST', path: '/v1/jobs', group: 'jobs', roles: ['consumer'] },
  { method: 'GET', path: '/v1/jobs', group: 'jobs', roles: ['consumer', 'admin'] },
  { method: 'GET', path: '/v1/jobs/{id}', group: 'jobs', roles: ['consumer', 'admin'] },
  { method: 'DELETE', path: '/v1/jobs/{id}', group: 'jobs', roles: ['consumer', 'admin'] },
  { method: 'GET', path: '/v1/jobs/{id}/logs', group: 'jobs', roles: ['consumer', 'admin'] },
  // files in, results out (docs/data.md): the owner's own, no admin view of another account's data
  { method: 'POST', path: '/v1/files', group: 'jobs', roles: ['consumer'] },
  { method: 'GET', path: '/v1/files', group: 'jobs', roles: ['consumer'] },
  { method: 'GET', path: '/v1/files/{id}', group: 'jobs', roles: ['consumer'] },
  { method: 'DELETE', path: '/v1/files/{id}', group: 'jobs', roles: ['consumer'] },
  { method: 'GET', path: '/v1/jobs/{id}/outputs', group: 'jobs', roles: ['consumer'] },
  { method: 'GET', path: '/v1/offers', group: 'jobs', roles: ANY_USER },

  // a consumer's secrets (docs/data.md, Secrets): their own function, the only one that may seal with the key
  { method: 'POST', path: '/v1/secrets', group: 'secrets', roles: ['consumer'] },
  { method: 'GET', path: '/v1/secrets', group: 'secrets', roles: ['consumer'] },
  { method: 'DELETE', path: '/v1/secrets/{name}', group: 'secrets', roles: ['consumer'] },

  // long-running services (docs/services.md): their own function; replicas are the consumer's jobs
  { method: 'POST', path: '/v1/services', group: 'services', roles: ['consumer'] },
  { method: 'GET', path: '/v1/services', group: 'services', roles: ['consumer', 'admin'] },
  { method: 'GET', path: '/v1/services/{id}', group: 'services', roles: ['consumer', 'admin'] },
  { method: 'PATCH', path: '/v1/services/{id}', group: 'services', roles: ['consumer'] },
  { method: 'DELETE', path: '/v1/services/{id}', group: 'services', roles: ['consumer'] },

  // checker licenses and governance (docs/checkers.md, Licenses; docs/governance.md): their own function
  { method: 'POST', path: '/v1/licenses', group: 'governance', roles: ['admin'] },
  { method: 'GET', path: '/v1/licenses', group: 'governance', roles: ANY_USER },
  { method: 'GET', path: '/v1/licenses/{id}', group: 'governance', roles: ANY_USER },
  { method: 'POST', path: '/v1/licenses/{id}/transfer', group: 'governance', roles: ['consumer', 'provider'] },
  { method: 'POST', path: '/v1/licenses/{id}/delegate', group: 'governance', roles: ['consumer', 'provider'] },
  { method: 'POST', path: '/v1/licenses/{id}/reinstate', group: 'governance', roles: ['admin'] },
  { method: 'POST', path: '/v1/proposals', group: 'governance', roles: ['consumer', 'provider'] },
  { method: 'GET', path: '/v1/proposals/{id}', group: 'governance', roles: ANY_USER },
  { method: 'POST', path: '/v1/proposals/{id}/votes', group: 'governance', roles: ['consumer', 'provider'] },
  { method: 'POST', path: '/v1/proposals/{id}/veto', group: 'governance', roles: ['admin'] },
  { method: 'GET', path: '/v1/parameters', group: 'governance', roles: ANY_USER },
  // the open checker network (docs/checkers.md, The checker network): a license's holder or operator runs a checker
  { method: 'POST', path: '/v1/checkers', group: 'governance', roles: ['consumer', 'provider'] },
  { method: 'GET', path: '/v1/checkers', group: 'governance', roles: ANY_USER },
  { method: 'GET', path: '/v1/checkers/assignments', group: 'governance', roles: ['consumer', 'provider'] },
  { method: 'POST', path: '/v1/checkers/reports', group: 'governance', roles: ['consumer', 'provider'] },

  { method: 'POST', path: '/v1/nodes', group: 'nodes', roles: ['provider'] },
  { method: 'GET', path: '/v1/nodes', group: 'nodes', roles: ['provider', 'admin'] },
  { method: 'GET', path: '/v1/nodes/{id}', group: 'nodes', roles: ['provider', 'admin'] },
  { method: 'PATCH', path: '/v1/nodes/{id}', group: 'nodes', roles: ['provider', 'admin'] },
  { method: 'DELETE', path: '/v1/nodes/{id}', group: 'nodes', roles: ['provider', 'admin'] },
  { method: 'GET', path: '/v1/nodes/{id}/scores', group: 'nodes', roles: ['provider', 'admin'] },
  { method: 'POST', path: '/v1/nodes/{id}/release', group: 'nodes', roles: ['admin'] },
  // burst EC2 instances (docs/burst.md): the operator's view
  { method: 'GET', path: '/v1/burst', group: 'nodes', roles: ['admin'] },

  { method: 'POST', path: '/v1/agent/session', group: 'agent', roles: ['node'] },
  { method: 'POST', path: '/v1/agent/heartbeat', group: 'agent', roles: ['node'] },
  { method: 'POST', path: '/v1/agent/jobs/{id}/start', group: 'agent', roles: ['node'] },
  { method: 'POST', path: '/v1/agent/jobs/{id}/logs', group: 'agent', roles: ['node'] },
  { method: 'POST', path: '/v1/agent/jobs/{id}/finish', group: 'agent', roles: ['node'] },
  { method: 'POST', path: '/v1/agent/jobs/{id}/outputs', group: 'agent', roles: ['node'] },
  { method: 'POST', path: '/v1/agent/jobs/{id}/checkpoint', group: 'agent', roles: ['node'] },
];

export const ROUTE_GROUPS: readonly RouteGroup[] = ['accounts', 'jobs', 'nodes', 'agent', 'public', 'secrets', 'governance', 'services'];

/** Turns `/v1/jobs/{id}` into a matcher; returns the path parameters or undefined. */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i];
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (!p[i]) return undefined;
      params[seg.slice(1, -1)] = decodeURIComponent(p[i]);
    } else if (seg !== p[i]) return undefined;
  }
  return params;
}
