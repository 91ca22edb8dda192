// Every 2xx answer the test client receives is checked against its route's documented response schema
// (functions/http/responses): a field of the wrong type, a missing one, or one the schema does not name
// fails the request. So the API, end-to-end and CLI suites keep the published schemas honest.
import { isDeepStrictEqual } from 'node:util';
import { RESPONSES } from '../../functions/http/responses';
import { matchPath, ROUTES } from '../../functions/http/routes';

/** the route a concrete path is served by: literal segments win over parameters (`/v1/checkers/assignments`) */
export function routeOf(method: string, path: string): string | undefined {
  const bare = path.split('?')[0];
  const hits = ROUTES.filter((r) => r.method === method && matchPath(r.path, bare));
  hits.sort((a, b) => (a.path.match(/\{/g)?.length ?? 0) - (b.path.match(/\{/g)?.length ?? 0));
  return hits[0] && `${hits[0].method} ${hits[0].path}`;
}

/** The paths (a.b.0.c) where `actual` has something `parsed` dropped: fields the schema does not name. */
function undocumented(actual: unknown, parsed: unknown, at = ''): string[] {
  if (Array.isArray(actual) && Array.isArray(parsed)) return actual.flatMap((v, i) => undocumented(v, parsed[i], `${at}${i}.`));
  if (actual && typeof actual === 'object' && parsed && typeof parsed === 'object') {
    return Object.entries(actual).flatMap(([k, v]) => (k in parsed ? undocumented(v, (parsed as Record<string, unknown>)[k], `${at}${k}.`) : [`${at}${k}`]));
  }
  return [];
}

/** Throws when a success answer does not match the schema of the route that gave it. */
export function checkAnswer(method: string, path: string, status: number, body: unknown): void {
  if (status < 200 || status >= 300 || status === 204) return;
  const route = routeOf(method, path);
  const schema = route && RESPONSES[route];
  if (!route) return; // not an API route (a service's own path, a static file)
  if (!schema) throw new Error(`${route} answered ${status} but documents no response schema`);
  const r = schema.safeParse(body);
  if (!r.success) throw new Error(`${route} answered ${status} with a body its schema refuses: ${JSON.stringify(r.error.issues).slice(0, 1500)}`);
  if (!isDeepStrictEqual(r.data, body)) {
    const extra = undocumented(body, r.data);
    throw new Error(`${route} answered ${status} with fields its schema does not name: ${extra.join(', ') || JSON.stringify(body).slice(0, 500)}`);
  }
}
