// Providers' nodes.
import { RegisterNodeSchema } from '../domain/agent-protocol';
import { IdSchema, ListQuerySchema, PatchNodeSchema } from '../domain/schemas';
import { deregisterNode, getOwnNode, listNodes, nodeView, patchNode, registerNode } from '../usecases/nodes';
import { nodeScores, releaseNode, ScoresQuerySchema } from '../usecases/checker-scores';
import { listBurst } from '../usecases/burst-view';
import { parseWith } from './kit/problem';
import { routeGroup, type RouteFn } from './kit/router';
import { lambdaRoot } from '../wiring/lambda-root';
import { apiGatewayUsageKeys } from '../store/api-gateway-usage-keys';

export const routes: Record<string, RouteFn> = {
  'POST /v1/nodes': async (req, d) => {
    const r = await registerNode(d, req.caller, parseWith(RegisterNodeSchema, req.body));
    return { status: 201, body: { node: r.node, nodeKey: r.nodeKey } };
  },
  'GET /v1/nodes': async (req, d) => {
    const q = parseWith(ListQuerySchema, req.query, 'query');
    const page = await listNodes(d, req.caller, q.limit, q.cursor);
    return { status: 200, body: { items: page.items.map((n) => nodeView(n, req.caller)), nextCursor: page.nextCursor ?? null } };
  },
  'GET /v1/nodes/{id}': async (req, d) => ({ status: 200, body: { node: nodeView(await getOwnNode(d, req.caller, parseWith(IdSchema, req.params.id, 'id')), req.caller) } }),
  'PATCH /v1/nodes/{id}': async (req, d) => {
    const patch = parseWith(PatchNodeSchema, req.body);
    return { status: 200, body: { node: nodeView(await patchNode(d, req.caller, parseWith(IdSchema, req.params.id, 'id'), patch), req.caller) } };
  },
  'DELETE /v1/nodes/{id}': async (req, d) => ({ status: 200, body: { node: nodeView(await deregisterNode(d, req.caller, parseWith(IdSchema, req.params.id, 'id')), req.caller) } }),
  'GET /v1/nodes/{id}/scores': async (req, d) => ({
    status: 200,
    body: await nodeScores(d, req.caller, parseWith(IdSchema, req.params.id, 'id'), parseWith(ScoresQuerySchema, req.query, 'query')),
  }),
  'POST /v1/nodes/{id}/release': async (req, d) => ({ status: 200, body: { node: await releaseNode(d, req.caller, parseWith(IdSchema, req.params.id, 'id')) } }),
  'GET /v1/burst': async (req, d) => {
    const q = parseWith(ListQuerySchema, req.query, 'query');
    return { status: 200, body: await listBurst(d.burst, req.caller, d.now(), q.limit, q.cursor) };
  },
};

// registration gives each node a usage key of its own on AWS (usecases/agent-usage-keys.ts)
export const handler = routeGroup('nodes', routes, lambdaRoot({ agentUsageKeys: apiGatewayUsageKeys }));
