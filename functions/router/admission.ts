// Who may call which service through the routing tier: the owner's API key (a consumer key of the account
// that owns it) or the service's token; and only a service with a ready replica gets a request through.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Caller } from '../domain/model';
import { presentedToken } from './forward-headers';
import { serviceTarget } from './route-path';
import type { RouteService } from './route-table';

export type Admitted = { ok: true; live: RouteService; upstreamPath: string; dropAuthorization: boolean };
export type Refused = { ok: false; status: number; detail: string; code: string; headers?: Record<string, string> };

export interface AdmissionPorts {
  servicesDomain?: string;
  /** the service as routing sees it (cached by the caller) */
  service(id: string): Promise<RouteService | undefined>;
  /** an API key's caller, or undefined when the key is unknown (cached by the caller) */
  resolveKey(raw: string): Promise<Caller | undefined>;
}

function tokenMatches(token: string, tokenSha256: string | undefined): boolean {
  if (!tokenSha256 || token.length > 512) return false;
  const a = createHash('sha256').update(token).digest();
  const b = Buffer.from(tokenSha256, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function admit(req: IncomingMessage, p: AdmissionPorts): Promise<Admitted | Refused> {
  const target = serviceTarget(req.url ?? '/', req.headers.host, p.servicesDomain);
  if (!target) return { ok: false, status: 404, detail: 'no such service', code: 'not_found' };
  const apiKey = typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'] : undefined;
  const token = presentedToken(req.headers);
  const challenge = { 'www-authenticate': 'Bearer realm="gpupool-service"' };
  if (!apiKey && !token) return { ok: false, status: 401, detail: 'an API key (x-api-key) or the service token (Authorization: Bearer …) is required', code: 'unauthorized', headers: challenge };

  const svc = await p.service(target.serviceId);
  const live = svc && svc.status !== 'DELETED' ? svc : undefined;
  const byToken = !!token && !!live && tokenMatches(token.token, live.tokenSha256);
  if (!byToken) {
    if (!apiKey) return { ok: false, status: 401, detail: 'wrong service token', code: 'unauthorized', headers: challenge };
    const caller = await p.resolveKey(apiKey);
    if (!caller) return { ok: false, status: 401, detail: 'missing or unknown API key', code: 'unauthorized', headers: challenge };
    // another account's service is not found, as the API answers for another account's job
    if (!live || caller.accountId !== live.accountId || caller.role !== 'consumer') return { ok: false, status: 404, detail: 'no such service', code: 'not_found' };
  }
  if (!live!.replicas.length) return { ok: false, status: 503, detail: 'no replica of this service is ready yet', code: 'unavailable', headers: { 'retry-after': '1' } };
  return { ok: true, live: live!, upstreamPath: target.upstreamPath, dropAuthorization: byToken && token!.from === 'authorization' };
}
