// Routes that need no key: liveness and the API description.
import { openApiDocument } from './openapi';
import { problem } from './kit/problem';
import { routeGroup, type PublicRouteFn } from './kit/router';

const routes: Record<string, PublicRouteFn> = {
  'GET /v1/health': async () => ({ status: 200, body: { ok: true } }),
  'GET /v1/openapi.json': async () => ({ status: 200, body: openApiDocument() }),
  'GET /install.sh': async () => problem(404, 'the install script is not bundled into this build yet', 'not_found'),
  'GET /console': async () => problem(404, 'the web console is not part of this build yet', 'not_found'),
};

export const handler = routeGroup('public', routes);
