// Where a webhook may be sent: the checker's SSRF rules (checker/address.ts) plus a scheme rule. In the
// cloud a webhook URL is https and every address its host resolves to must be public; the local stack also
// allows loopback, over plain http, so a receiver on the developer's machine works. The URL is checked when
// the job is submitted (no DNS there: names may change) and again, with DNS, before every attempt, and the
// request goes to the address that was checked.
import { addressProblem, classifyHost, parseTarget, type AddressClass } from '../checker/address';

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export interface WebhookAddressRules {
  /** address classes allowed besides public ones: [] in the cloud, ['loopback'] locally */
  allowAddresses: readonly AddressClass[];
  /** address classes plain http may reach: [] in the cloud (https only), ['loopback'] locally */
  httpAllowedFor: readonly AddressClass[];
}

export const CLOUD_RULES: WebhookAddressRules = { allowAddresses: [], httpAllowedFor: [] };

export interface WebhookTarget {
  protocol: 'http:' | 'https:';
  /** as written in the URL: the Host header and the TLS server name */
  host: string;
  port: number;
  path: string;
  /** set when the URL names an IP literal */
  address?: { address: string; family: 4 | 6; class: AddressClass };
}

/** Parses and checks a webhook URL up to name resolution: a target, or why it is refused. */
export function webhookTarget(url: string, rules: WebhookAddressRules): WebhookTarget | { problem: string } {
  if (url.length > MAX_WEBHOOK_URL_LENGTH) return { problem: 'webhook URL too long' };
  const parsed = parseTarget(url, 'webhook URL');
  if ('problem' in parsed) return { problem: parsed.badScheme ? 'webhook URL must be https' : parsed.problem };
  const { target, host } = parsed;
  const protocol = target.protocol;
  if (host.kind === 'name') {
    // a name is judged by what it resolves to (resolvedProblem); plain http needs a class that allows it at all
    if (protocol === 'http:' && rules.httpAllowedFor.length === 0) return { problem: 'webhook URL must be https' };
    return target;
  }
  const problem = addressProblem(host.class, rules.allowAddresses) ?? schemeProblem(protocol, host.class, rules);
  return problem ? { problem } : { ...target, address: { address: host.address, family: host.family, class: host.class } };
}

function schemeProblem(protocol: WebhookTarget['protocol'], c: AddressClass, rules: WebhookAddressRules): string | undefined {
  return protocol === 'http:' && !rules.httpAllowedFor.includes(c) ? 'webhook URL must be https' : undefined;
}

/** Checks every address a name resolved to; a name with one allowed and one refused address is refused. */
export function resolvedProblem(
  target: WebhookTarget,
  answers: readonly { address: string }[],
  rules: WebhookAddressRules,
): { problem: string } | { address: string; family: 4 | 6 } {
  if (answers.length === 0) return { problem: `${target.host} has no address` };
  let first: { address: string; family: 4 | 6 } | undefined;
  for (const a of answers) {
    const c = classifyHost(a.address);
    if (!c || c.kind !== 'ip') return { problem: `${target.host} resolved to an unreadable address` };
    const problem = addressProblem(c.class, rules.allowAddresses) ?? schemeProblem(target.protocol, c.class, rules);
    if (problem) return { problem: `${target.host} resolves to a ${problem === 'webhook URL must be https' ? `${c.class} address over http` : problem}` };
    first ??= { address: c.address, family: c.family };
  }
  return first!;
}
