// Where a request to one replica goes: its node's ingress (address resolved and checked against the
// allowed address classes) and the headers it carries there, with a route pass signed for (service, node).
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { resolveProbeTarget } from '../usecases/checker-probe-client';
import { upstreamHeaders } from './forward-headers';
import { ROUTE_PASS_HEADER } from '../domain/service/route-pass';

export type ResolvedEndpoint = Awaited<ReturnType<typeof resolveProbeTarget>>;

export interface Upstream {
  target: ResolvedEndpoint['target'];
  address: ResolvedEndpoint['address'];
  isHttps: boolean;
  headers: Record<string, string | string[]>;
}

export function upstream(req: IncomingMessage, { target, address }: ResolvedEndpoint, routePass: string, dropAuthorization: boolean, extra: Record<string, string> = {}): Upstream {
  const isHttps = target.protocol === 'https:';
  const defaultPort = isHttps ? 443 : 80;
  const headers: Record<string, string | string[]> = { ...upstreamHeaders(req.rawHeaders, { dropAuthorization }), ...extra };
  headers.host = target.port === defaultPort ? target.host : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  headers[ROUTE_PASS_HEADER] = routePass;
  return { target, address, isHttps, headers };
}

/** The request of one try to the node: to the resolved address, with the node's name for TLS. */
export function requestTo(u: Upstream, path: string, method: string | undefined, headers: Upstream['headers'], agent: http.Agent | false): ClientRequest {
  const { target, address, isHttps } = u;
  return (isHttps ? https : http).request({ host: address.address, family: address.family, port: target.port, path, method, headers, agent, ...(isHttps ? { servername: target.host } : {}) });
}
