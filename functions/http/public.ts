// Routes that need no key: liveness and the API description.
import { openApiDocument } from './openapi';
import { routeGroup, type PublicRouteFn } from './kit/router';

const routes: Record<string, PublicRouteFn> = {
  'GET /v1/health': async () => ({ status: 200, body: { ok: true } }),
  'GET /v1/openapi.json': async () => ({ status: 200, body: openApiDocument() }),
};

export const handler = routeGroup('public', routes);
