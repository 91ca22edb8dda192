// Where a request to the routing tier goes: which service, and which path at the node's ingress. Pure.
// Two forms reach a service: `/s/<serviceId>/<rest>` on any host (the local gateway, and the ALB's own
// name), and on AWS `Host: <serviceId>.<servicesDomain>` with the whole path as <rest>. <rest> is resolved
// here, clamped at the service's root: a `..` (raw or percent-encoded, `\` taken as `/` as URL parsers do)
// can never make the node's ingress see a path outside `/s/<serviceId>/`.

/** The path prefix of service traffic. */
export const SERVICE_PREFIX = '/s/';

/** Service ids are single path segments and DNS labels: letters, digits, `_` and `-`. */
const SERVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface ServiceTarget {
  serviceId: string;
  /** the path at the node's ingress: `/s/<serviceId>/<rest>` with dot segments resolved, plus the query */
  upstreamPath: string;
}

const isDot = (seg: string) => seg === '.' || seg.toLowerCase() === '%2e';
const isDotDot = (seg: string) => /^(\.|%2e)(\.|%2e)$/i.test(seg);

/** `rest` (a path starting with `/`, or empty) with `.`/`..` resolved and never above its root. */
export function resolveRest(rest: string): string {
  const segments = rest.replace(/\\/g, '/').split('/').slice(1);
  const out: string[] = [];
  let trailing = false;
  for (const seg of segments) {
    trailing = false;
    if (isDot(seg)) trailing = true;
    else if (isDotDot(seg)) {
      out.pop();
      trailing = true;
    } else out.push(seg);
  }
  const path = `/${out.join('/')}`;
  return trailing && !path.endsWith('/') ? `${path}/` : path;
}

function hostName(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return undefined; // an IPv6 literal is never a service name
  return h.replace(/:\d+$/, '').replace(/\.$/, '');
}

/**
 * The service a request names, or undefined when it names none (not service traffic, or a malformed id).
 * `servicesDomain` (e.g. `svc.example.com`) enables host-based names.
 */
export function serviceTarget(rawUrl: string, host: string | undefined, servicesDomain?: string): ServiceTarget | undefined {
  // not new URL(): it would read `//host/x` as a host and resolve `..` across the service's prefix
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? '' : rawUrl.slice(q);
  if (!path.startsWith('/')) return undefined;
  const name = hostName(host);
  const domain = servicesDomain?.toLowerCase().replace(/\.$/, '');
  if (domain && name && name.endsWith(`.${domain}`)) {
    const label = name.slice(0, -domain.length - 1);
    if (!SERVICE_ID.test(label)) return undefined;
    return { serviceId: label, upstreamPath: `${SERVICE_PREFIX}${label}${resolveRest(path)}${query}` };
  }
  if (!path.startsWith(SERVICE_PREFIX)) return undefined;
  const afterPrefix = path.slice(SERVICE_PREFIX.length);
  const slash = afterPrefix.search(/[/\\]/);
  const serviceId = slash < 0 ? afterPrefix : afterPrefix.slice(0, slash);
  if (!SERVICE_ID.test(serviceId)) return undefined;
  const rest = slash < 0 ? '' : afterPrefix.slice(slash);
  return { serviceId, upstreamPath: `${SERVICE_PREFIX}${serviceId}${resolveRest(rest)}${query}` };
}
