// The API's functions in the local stack: each route group's routes (the same tables its Lambda function
// serves, functions/http/<group>.ts) behind the same middy handler (functions/http/kit/router.ts), on the
// local stack's composition root instead of the Lambda one.
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { routes as accounts } from '../../functions/http/accounts';
import { routes as agent } from '../../functions/http/agent';
import { routes as governance } from '../../functions/http/governance';
import { routes as jobs } from '../../functions/http/jobs';
import { routeGroup, type PublicRouteFn, type RouteFn } from '../../functions/http/kit/router';
import { routes as nodes } from '../../functions/http/nodes';
import { routes as publicRoutes } from '../../functions/http/public';
import { ROUTE_GROUPS, type RouteGroup } from '../../functions/http/routes';
import { routes as secrets } from '../../functions/http/secrets';
import { routes as services } from '../../functions/http/services';
import type { DepsRoot } from '../../functions/wiring/lambda-root';

export type ApiHandler = (e: APIGatewayProxyEvent, c: Context) => Promise<APIGatewayProxyResult>;

/** every group's routes: a group missing here does not compile */
export const ROUTE_TABLES: Record<RouteGroup, Record<string, RouteFn | PublicRouteFn>> = { accounts, agent, governance, jobs, nodes, public: publicRoutes, secrets, services };

export function localApiHandlers(root: DepsRoot): Record<RouteGroup, ApiHandler> {
  return Object.fromEntries(ROUTE_GROUPS.map((g) => [g, routeGroup(g, ROUTE_TABLES[g], root)])) as unknown as Record<RouteGroup, ApiHandler>;
}
