// Serves the built web console (dist/console, `npm run build:console`) at /console on the local gateway:
// index.html for /console and /console/, hashed assets under /console/assets/ cached for a year.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { problem } from '../../functions/http/kit/problem';
import { CONSOLE_HEADERS, CONSOLE_PATH } from '../console/security-headers';
import type { ExtraRoute } from './gateway';

export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../dist/console', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

function sendProblem(res: ServerResponse, status: number, detail: string, code: string) {
  const p = problem(status, detail, code);
  res.writeHead(p.statusCode, p.headers as Record<string, string>);
  res.end(p.body);
}

/** The file a request path names inside `dir`, or undefined when it would leave it. */
function fileFor(dir: string, urlPath: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.slice(CONSOLE_PATH.length));
  } catch {
    return undefined;
  }
  if (rel === '' || rel === '/') return path.join(dir, 'index.html');
  if (rel.includes('\0')) return undefined;
  const file = path.resolve(dir, `.${rel}`);
  return file.startsWith(dir + path.sep) ? file : undefined;
}

export function consoleRoutes(dir = DEFAULT_CONSOLE_DIR): ExtraRoute[] {
  const root = path.resolve(dir);
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const urlPath = (req.url ?? '/').split('?')[0];
    const file = fileFor(root, urlPath);
    const body = file ? await readFile(file).catch(() => undefined) : undefined;
    if (!body) {
      const built = await readFile(path.join(root, 'index.html')).then(() => true, () => false);
      return built
        ? sendProblem(res, 404, `no console file at ${urlPath}`, 'not_found')
        : sendProblem(res, 404, 'the web console is not built here: run npm run build:console', 'not_found');
    }
    const html = file!.endsWith('.html');
    res.writeHead(200, {
      ...CONSOLE_HEADERS,
      'content-type': TYPES[path.extname(file!)] ?? 'application/octet-stream',
      'content-length': String(body.length),
      // asset names carry a content hash; index.html must be re-read so a new build takes effect
      'cache-control': html ? 'no-cache' : 'public, max-age=31536000, immutable',
    });
    res.end(body);
  };
  return [
    { method: 'GET', path: CONSOLE_PATH, serve },
    { method: 'GET', path: `${CONSOLE_PATH}/*`, serve },
  ];
}
