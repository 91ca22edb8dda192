// One middy handler per route group: finds the route by API Gateway's resource template, checks the
// caller's role again (defence in depth: the domain checks ownership too), applies idempotency to
// creating POSTs, and maps every error to a problem document.
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { isRegistrationKeyId } from '../../domain/api-key';
import { DomainError } from '../../domain/errors';
import type { Caller } from '../../domain/model';
import type { Deps } from '../../usecases/deps';
import { observed } from '../../observability/invocation';
import type { DepsRoot } from '../../wiring/lambda-root';
import { ROUTES, type RouteGroup } from '../routes';
import { CREATING } from './creating';
import { withIdempotency } from './idempotency';
import { errorToProblem, problem } from './problem';
import { toRequest, type Request } from './request';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export type RouteFn = (req: Request & { caller: Caller }, d: Deps) => Promise<Reply>;
export type PublicRouteFn = (req: Request, d: Deps) => Promise<Reply | APIGatewayProxyResult>;

function toResult(r: Reply | APIGatewayProxyResult): APIGatewayProxyResult {
  if ('statusCode' in r) return r;
  return {
    statusCode: r.status,
    headers: { 'content-type': 'application/json', ...r.headers },
    body: r.body === undefined ? '' : JSON.stringify(r.body),
  };
}

/** `root`: the composition root of the function serving the group (on Lambda its own, in the local stack the stack's). */
export function routeGroup(group: RouteGroup, fns: Record<string, RouteFn | PublicRouteFn>, root: DepsRoot) {
  const routes = ROUTES.filter((r) => r.group === group);
  for (const r of routes) if (!fns[`${r.method} ${r.path}`]) throw new Error(`no handler for ${r.method} ${r.path}`);
  const base = async (event: APIGatewayProxyEvent, _ctx?: Context): Promise<APIGatewayProxyResult> => {
    const routeKey = `${event.httpMethod} ${event.resource}`;
    const route = routes.find((r) => `${r.method} ${r.path}` === routeKey);
    const fn = fns[routeKey];
    if (!route || !fn) return problem(404, 'no such route', 'not_found');
    const req = toRequest(event);
    if (route.roles.length) {
      if (!req.caller) throw new DomainError('unauthorized', 'missing or unknown API key');
      if (!route.roles.includes(req.caller.role)) throw new DomainError('forbidden', `this route is not for ${req.caller.role} keys`);
      // a one-time registration token registers its node and does nothing else
      if (req.caller.role === 'provider' && isRegistrationKeyId(req.caller.keyId) && routeKey !== 'POST /v1/nodes') {
        throw new DomainError('forbidden', 'a registration token may only register a node');
      }
    }
    const d = root();
    const run = async () => toResult(await (fn as PublicRouteFn)(req, d));
    return CREATING.has(routeKey) ? withIdempotency(d, req, routeKey, run) : run();
  };
  // observed: the Lambda context on the log lines; what the use cases recorded (placements, starts, lost attempts) written per invocation
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>().handler(observed(() => root().metrics, base)).onError(async (request) => {
    request.response = errorToProblem(request.error, request.event?.requestContext?.requestId);
  });
}
