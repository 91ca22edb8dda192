// The routing tier's pass to a node's ingress (docs/services.md, Security): a request for service S may
// reach node N's replica only with a pass the control plane's key signed for exactly (S, N), not yet
// expired. Nodes are strangers: the consumer's API key or service token never reaches them, and a pass one
// node sees is useless at another node or for another service. Pure: node:crypto computes, nothing is read.
import type { KeyObject } from 'node:crypto';
import { signPayload, verifyPayload } from '../checker/signing';

/** The header the pass travels in, from the routing tier to the node's ingress. */
export const ROUTE_PASS_HEADER = 'x-gpupool-route';
/** How long a pass is good for; the routing tier reuses one until half of it has gone. */
export const ROUTE_PASS_TTL_MS = 120_000;

interface RoutePayload {
  s: string;
  n: string;
  exp: number;
}

/** `<base64url JSON>.<base64 signature>` for service `serviceId` at node `nodeId`, good until now + ttl. */
export function makeRoutePass(key: KeyObject, serviceId: string, nodeId: string, now: number, ttlMs = ROUTE_PASS_TTL_MS): string {
  const payload: RoutePayload = { s: serviceId, n: nodeId, exp: now + ttlMs };
  return `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signPayload(key, 'route', payload)}`;
}

/** Whether `pass` is the control plane's pass for `serviceId` at `nodeId`, unexpired at `now`; never throws. */
export function verifyRoutePass(key: KeyObject, pass: unknown, serviceId: string, nodeId: string, now: number): boolean {
  if (typeof pass !== 'string' || pass.length > 1024) return false;
  const dot = pass.indexOf('.');
  if (dot <= 0) return false;
  let payload: RoutePayload;
  try {
    payload = JSON.parse(Buffer.from(pass.slice(0, dot), 'base64url').toString('utf8')) as RoutePayload;
  } catch {
    return false;
  }
  if (!payload || payload.s !== serviceId || payload.n !== nodeId || typeof payload.exp !== 'number' || payload.exp < now) return false;
  // a pass good for far longer than any the tier makes is not one it made
  if (payload.exp > now + 2 * ROUTE_PASS_TTL_MS) return false;
  return verifyPayload(key, 'route', { s: payload.s, n: payload.n, exp: payload.exp }, pass.slice(dot + 1));
}
