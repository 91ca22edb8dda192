// Which headers cross the routing tier. Pure. Hop-by-hop headers (RFC 9110 §7.6.1) stop here both ways;
// the caller's gpupool credentials never reach a node (nodes are strangers), and a route pass only ever
// comes from this router, never from the caller.
import { ROUTE_PASS_HEADER } from '../domain/service/route-pass';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The service token header, besides `Authorization: Bearer <token>`. */
export const TOKEN_HEADER = 'x-gpupool-token';

/** Names listed in the Connection header(s) are hop-by-hop too. */
function connectionListed(raw: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() !== 'connection') continue;
    for (const name of raw[i + 1].split(',')) out.add(name.trim().toLowerCase());
  }
  return out;
}

/**
 * The request headers to send to a node: `rawHeaders` less hop-by-hop ones, Host (set for the node),
 * the body framing (set again for the body sent), `x-api-key`, the token header, any `x-gpupool-route`
 * the caller sent, and Authorization when it carried the gpupool token (`dropAuthorization`).
 */
export function upstreamHeaders(rawHeaders: readonly string[], o: { dropAuthorization: boolean }): Record<string, string | string[]> {
  const drop = connectionListed(rawHeaders);
  const out: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || drop.has(name)) continue;
    if (name === 'host' || name === 'content-length' || name === 'expect') continue;
    if (name === 'x-api-key' || name === TOKEN_HEADER || name === ROUTE_PASS_HEADER) continue;
    if (name === 'authorization' && o.dropAuthorization) continue;
    const prev = out[name];
    out[name] = prev === undefined ? rawHeaders[i + 1] : Array.isArray(prev) ? [...prev, rawHeaders[i + 1]] : [prev, rawHeaders[i + 1]];
  }
  return out;
}

/** The response headers to pass back to the caller, as a flat [name, value, …] list (Set-Cookie kept apart). */
export function downstreamHeaders(rawHeaders: readonly string[]): string[] {
  const drop = connectionListed(rawHeaders);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || drop.has(name)) continue;
    out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return out;
}

/** The service token a request carries: `x-gpupool-token`, or `Authorization: Bearer …`. */
export function presentedToken(headers: Record<string, string | string[] | undefined>): { token: string; from: 'header' | 'authorization' } | undefined {
  const h = headers[TOKEN_HEADER];
  if (typeof h === 'string' && h) return { token: h.trim(), from: 'header' };
  const auth = headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m ? { token: m[1], from: 'authorization' } : undefined;
}
