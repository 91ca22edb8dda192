// Routes that need no key: liveness, the API description, the agent's install script and the bundles
// people download (the agent, the CLI).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INSTALL_SCRIPT } from './install-script.generated';
import { CHECKER_INSTALL_SCRIPT } from './install-checker-script.generated';
import { openApiDocument } from './openapi';
import { problem } from './kit/problem';
import { routeGroup, type PublicRouteFn } from './kit/router';
import { lambdaRoot } from '../wiring/lambda-root';

export const routes: Record<string, PublicRouteFn> = {
  'GET /v1/health': async () => ({ status: 200, body: { ok: true } }),
  'GET /v1/openapi.json': async (req) => ({ status: 200, body: openApiDocument(req.served) }),
  // `curl -fsSL <api>/install.sh | sudo bash -s -- --api-url … --provider-key …` (agent/install/install.sh)
  'GET /install.sh': async () => ({
    statusCode: 200,
    headers: { 'content-type': 'text/x-shellscript; charset=utf-8', 'cache-control': 'public, max-age=300' },
    body: INSTALL_SCRIPT,
  }),
  // the bundled agent install.sh fetches: beside this function's code on AWS, dist/ in a checkout
  'GET /agent/gpupool-agent.mjs': async () => {
    const bundle = await readAgentBundle();
    if (bundle === undefined) return problem(404, 'the agent bundle is not built here: run npm run build:agent', 'not_found');
    return { statusCode: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300' }, body: bundle.toString('utf8') };
  },
  // what install.sh checks the bundle against before installing it, in sha256sum's format
  'GET /agent/gpupool-agent.mjs.sha256': async () => {
    const bundle = await readAgentBundle();
    if (bundle === undefined) return problem(404, 'the agent bundle is not built here: run npm run build:agent', 'not_found');
    const digest = createHash('sha256').update(bundle).digest('hex');
    return { statusCode: 200, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'public, max-age=300' }, body: `${digest}  gpupool-agent.mjs\n` };
  },
  // the `gpupool` CLI in one file: `curl -fsSLo gpupool.mjs <api>/cli/gpupool.mjs && node gpupool.mjs --help` (docs/cli.md)
  'GET /cli/gpupool.mjs': async () => {
    const bundle = await readBundle('GPUPOOL_CLI_BUNDLE', 'gpupool.mjs');
    if (bundle === undefined) return problem(404, 'the CLI bundle is not built here: run npm run build:cli', 'not_found');
    return { statusCode: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300' }, body: bundle.toString('utf8') };
  },
  // what a checker host needs, under one resource (each API Gateway resource and method counts against the
  // stack's 500): its installer, `curl -fsSL <api>/checker/install.sh | sudo bash -s -- --api-url … --checker-key …`
  // (checker-client/install-checker.sh), the bundled checker it fetches (found like the agent's) and its digest
  'GET /checker/{file}': async (req) => {
    const file = req.params.file;
    if (file === 'install.sh') return text(CHECKER_INSTALL_SCRIPT, 'text/x-shellscript');
    if (file !== 'gpupool-checker.mjs' && file !== 'gpupool-checker.mjs.sha256') return problem(404, 'the checker files are install.sh, gpupool-checker.mjs and gpupool-checker.mjs.sha256', 'not_found');
    const bundle = await readCheckerBundle();
    if (bundle === undefined) return problem(404, 'the checker bundle is not built here: run npm run build:checker', 'not_found');
    if (file === 'gpupool-checker.mjs') return text(bundle.toString('utf8'), 'text/javascript');
    return text(`${createHash('sha256').update(bundle).digest('hex')}  gpupool-checker.mjs\n`, 'text/plain');
  },
  // the console is not in this function: on AWS CloudFront serves it (the Console stack, which depends
  // on this API, so the API cannot know its URL to redirect); locally the gateway serves dist/console
  'GET /console': async () => problem(404, 'the web console is served by CloudFront: open the ConsoleUrl output of the Console stack', 'not_found'),
};

const readAgentBundle = () => readBundle('GPUPOOL_AGENT_BUNDLE', 'gpupool-agent.mjs');
const readCheckerBundle = () => readBundle('GPUPOOL_CHECKER_BUNDLE', 'gpupool-checker.mjs');
const text = (body: string, type: string) => ({ statusCode: 200, headers: { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'public, max-age=300' }, body });

/** The file the env var names, else the file beside this module (Lambda), else the checkout's dist/. */
async function readBundle(envVar: string, name: string): Promise<Buffer | undefined> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = process.env[envVar] ? [process.env[envVar]] : [path.join(here, name), path.join(here, '../../dist', name)];
  for (const file of candidates) {
    const bytes = await readFile(file).catch(() => undefined);
    if (bytes !== undefined) return bytes;
  }
  return undefined;
}

export const handler = routeGroup('public', routes, lambdaRoot());
