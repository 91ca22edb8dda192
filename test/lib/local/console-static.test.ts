// The local gateway's /console: index.html and assets from a build directory, with the console's
// security headers, nothing outside that directory, and a 404 problem that says how to build it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteGroup } from '../../../functions/http/routes';
import { CONSOLE_CSP } from '../../../lib/console/security-headers';
import { consoleRoutes } from '../../../lib/local/console-static';
import { startGateway, type Gateway, type LambdaHandler } from '../../../lib/local/gateway';

const noHandler: LambdaHandler = async () => ({ statusCode: 500, body: 'not used' });
const handlers = Object.fromEntries(['accounts', 'jobs', 'nodes', 'agent', 'public'].map((g) => [g, noHandler])) as Record<RouteGroup, LambdaHandler>;

/** A GET with the path sent as written: fetch() would normalise `..` and `%2e%2e` away. */
function rawGet(base: string, rawPath: string): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let dir: string;
let built: Gateway;
let unbuilt: Gateway;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gpupool-console-'));
  mkdirSync(path.join(dir, 'build/assets'), { recursive: true });
  writeFileSync(path.join(dir, 'build/index.html'), '<!doctype html><title>console</title>');
  writeFileSync(path.join(dir, 'build/assets/app-abc123.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'secret.txt'), 'outside the build');
  const start = (consoleDir: string) => startGateway({ port: 0, handlers, authorize: async () => undefined, extraRoutes: consoleRoutes(consoleDir) });
  [built, unbuilt] = await Promise.all([start(path.join(dir, 'build')), start(path.join(dir, 'missing'))]);
});

afterAll(async () => {
  await Promise.all([built?.close(), unbuilt?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('local /console', () => {
  it.each(['/console', '/console/', '/console/?x=1'])('serves index.html at %s, uncached, with the console CSP', async (p) => {
    const r = await fetch(built.url + p);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('cache-control')).toBe('no-cache');
    expect(r.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await r.text()).toContain('<title>console</title>');
  });

  it('serves hashed assets with their type, cached for a year', async () => {
    const r = await fetch(`${built.url}/console/assets/app-abc123.js`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(r.headers.get('cache-control')).toContain('immutable');
    expect(await r.text()).toBe('console.log(1)');
  });

  it.each(['/console/assets/nope.js', '/console/assets/', '/console/../secret.txt', '/console/%2e%2e/secret.txt', '/console/..%2fsecret.txt', '/console/%E0%A4%A', '/console/%00'])(
    'answers %s with a 404 problem and never a file outside the build',
    async (p) => {
      const r = await rawGet(built.url, p);
      expect(r.status).toBe(404);
      expect(r.type).toBe('application/problem+json');
      expect(r.body).not.toContain('outside the build');
    },
  );

  it('says how to build the console when it is not built', async () => {
    const r = await fetch(`${unbuilt.url}/console`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { detail: string }).detail).toMatch(/npm run build:console/);
  });
});
