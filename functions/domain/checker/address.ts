// SSRF guard for probe URLs: which addresses the checker may connect to. In cloud mode a node's probe URL
// must resolve only to public unicast addresses; loopback, private, shared (CGNAT), link-local (including
// the instance metadata service 169.254.169.254), unspecified, multicast, documentation and reserved ranges
// are refused, and IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the
// address they embed. IPv4 literals are parsed the way inet_aton does (0x7f.1, 2130706433, 0177.0.0.1), since
// that is how a resolver would read them. The caller resolves a name once, checks every address, and
// connects to the address it checked, so DNS cannot answer differently between check and use.

export type AddressClass = 'public' | 'loopback' | 'private' | 'linkLocal' | 'unspecified' | 'multicast' | 'reserved';

const v4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const V4_RANGES: readonly [number, number, AddressClass][] = [
  [v4(0, 0, 0, 0), 8, 'unspecified'], // "this network"; 0.0.0.0 reaches the local host on Linux
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'private'], // shared address space (carrier-grade NAT)
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'linkLocal'], // includes the metadata service 169.254.169.254
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'], // IETF protocol assignments
  [v4(192, 0, 2, 0), 24, 'reserved'], // documentation
  [v4(192, 88, 99, 0), 24, 'reserved'], // deprecated 6to4 relay anycast
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'reserved'], // benchmarking
  [v4(198, 51, 100, 0), 24, 'reserved'],
  [v4(203, 0, 113, 0), 24, 'reserved'],
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'], // includes 255.255.255.255
];

export function classifyIPv4(addr: number): AddressClass {
  for (const [base, bits, cls] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if (((addr & mask) >>> 0) === base) return cls;
  }
  return 'public';
}

/** inet_aton: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last part fills the rest. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p, 8);
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = Number(p);
    else return undefined;
    if (!Number.isFinite(n)) return undefined;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255)) return undefined;
  if (last >= 2 ** (8 * (4 - nums.length))) return undefined;
  let addr = 0;
  for (let i = 0; i < nums.length; i++) addr += nums[i] * 2 ** (8 * (3 - i));
  return addr + last;
}

/** Eight 16-bit words, or undefined. Accepts `::`, a trailing dotted IPv4 part and a zone (`%eth0`). */
export function parseIPv6(text: string): number[] | undefined {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!/^[0-9a-f:.]+$/i.test(s) || !s.includes(':')) return undefined;
  const lastColon = s.lastIndexOf(':');
  const quad = s.slice(lastColon + 1);
  if (quad.includes('.')) {
    // a trailing dotted IPv4 part becomes two hex words
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(quad) || quad.split('.').some((x) => Number(x) > 255)) return undefined;
    const [a, b, c, d] = quad.split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string) => (h === '' ? [] : h.split(':'));
  const head = words(halves[0]);
  const rest = halves.length === 2 ? words(halves[1]) : [];
  if ([...head, ...rest].some((w) => !/^[0-9a-f]{1,4}$/i.test(w))) return undefined;
  const known = head.length + rest.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  const fill = Array<number>(8 - known).fill(0);
  return [...head, ...(halves.length === 2 ? fill : []), ...rest].map((w) => (typeof w === 'number' ? w : parseInt(w, 16)));
}

const embedded = (hi: number, lo: number) => ((hi << 16) | lo) >>> 0;

export function classifyIPv6(w: readonly number[]): AddressClass {
  const zeros = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && w[7] === 1) return 'loopback';
  if (zeros(0, 5) && w[5] === 0xffff) return classifyIPv4(embedded(w[6], w[7])); // ::ffff:a.b.c.d mapped
  if (zeros(0, 6)) return classifyIPv4(embedded(w[6], w[7])); // ::a.b.c.d compatible (deprecated)
  if (w[0] === 0x64 && w[1] === 0xff9b && zeros(2, 6)) return classifyIPv4(embedded(w[6], w[7])); // NAT64
  if (w[0] === 0x2002) return classifyIPv4(embedded(w[1], w[2])); // 6to4
  if ((w[0] & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique local
  if ((w[0] & 0xffc0) === 0xfe80) return 'linkLocal'; // fe80::/10
  if ((w[0] & 0xffc0) === 0xfec0) return 'private'; // fec0::/10 site-local (deprecated)
  if ((w[0] & 0xff00) === 0xff00) return 'multicast';
  if (w[0] === 0x2001 && w[1] === 0x0db8) return 'reserved'; // documentation
  if (w[0] === 0x0100 && zeros(1, 4)) return 'reserved'; // discard prefix 100::/64
  if ((w[0] & 0xe000) === 0x2000) return 'public'; // 2000::/3 global unicast
  return 'reserved';
}

export type HostKind = { kind: 'ip'; family: 4 | 6; address: string; class: AddressClass } | { kind: 'name'; name: string };

/** What a URL host (or a resolver's answer) is: an IP literal with its class, or a name to resolve. */
export function classifyHost(host: string): HostKind | undefined {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h.includes(':')) {
    const w = parseIPv6(h);
    if (!w) return undefined;
    return { kind: 'ip', family: 6, address: w.map((x) => x.toString(16)).join(':'), class: classifyIPv6(w) };
  }
  const n = parseIPv4(h);
  if (n !== undefined) {
    return { kind: 'ip', family: 4, address: [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), class: classifyIPv4(n) };
  }
  // looks numeric but did not parse (e.g. 1.2.3.4.5, 0x1g): no resolver should get it
  if (/^[0-9.]+$/.test(h) || /^0x/i.test(h)) return undefined;
  if (!/^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i.test(h)) return undefined;
  return { kind: 'name', name: h.toLowerCase() };
}

/** Why the checker must not connect to this address, or undefined when it may. */
export function addressProblem(c: AddressClass, allow: readonly AddressClass[] = []): string | undefined {
  return c === 'public' || allow.includes(c) ? undefined : `${c} address refused`;
}

export interface ProbeTarget {
  protocol: 'http:' | 'https:';
  /** the host as written in the URL (for the Host header and TLS name) */
  host: string;
  port: number;
  path: string;
  /** set when the URL names an IP literal: connect to this */
  address?: { address: string; family: 4 | 6 };
}

/** The parts of an http(s) URL the checker and webhooks connect by, and what its host is. */
export interface ParsedTarget {
  target: Omit<ProbeTarget, 'address'>;
  host: HostKind;
}

/**
 * Parses an outbound http(s) URL (a probe or a webhook) up to name resolution: no other scheme, no
 * credentials, a host that is a valid name or IP literal. `what` names the URL in the problems.
 */
export function parseTarget(url: string, what: string): ParsedTarget | { problem: string; badScheme?: true } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { problem: `${what} is not a URL` };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { problem: `${what} scheme ${u.protocol} refused`, badScheme: true };
  if (u.username || u.password) return { problem: `${what} with credentials refused` };
  const host = classifyHost(u.hostname);
  if (!host) return { problem: `${what} host is not a valid name or address` };
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return { target: { protocol: u.protocol, host: u.hostname, port, path: `${u.pathname}${u.search}` }, host };
}

/** Parses and checks a probe URL up to name resolution; resolved names go through `addressProblem` too. */
export function probeTarget(url: string, allow: readonly AddressClass[] = []): ProbeTarget | { problem: string } {
  const parsed = parseTarget(url, 'probe URL');
  if ('problem' in parsed) return { problem: parsed.problem };
  const { target, host } = parsed;
  if (host.kind === 'name') return target;
  const problem = addressProblem(host.class, allow);
  return problem ? { problem } : { ...target, address: { address: host.address, family: host.family } };
}
