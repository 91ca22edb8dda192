// Routes that need no key: liveness, the API description and the agent's install script.
import { INSTALL_SCRIPT } from './install-script.generated';
import { openApiDocument } from './openapi';
import { problem } from './kit/problem';
import { routeGroup, type PublicRouteFn } from './kit/router';

const routes: Record<string, PublicRouteFn> = {
  'GET /v1/health': async () => ({ status: 200, body: { ok: true } }),
  'GET /v1/openapi.json': async () => ({ status: 200, body: openApiDocument() }),
  // `curl -fsSL <api>/install.sh | sudo bash -s -- --api-url … --provider-key …` (agent/install/install.sh)
  'GET /install.sh': async () => ({
    statusCode: 200,
    headers: { 'content-type': 'text/x-shellscript; charset=utf-8', 'cache-control': 'public, max-age=300' },
    body: INSTALL_SCRIPT,
  }),
  'GET /console': async () => problem(404, 'the web console is not part of this build yet', 'not_found'),
};

export const handler = routeGroup('public', routes);
