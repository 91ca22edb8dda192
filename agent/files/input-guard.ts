// A consumer's URL input is fetched by the provider's agent, on the provider's host and network: outside
// the job's container, next to the cloud's metadata endpoint and the provider's private services. The
// control plane checks the URL at submit, but a name can resolve elsewhere by the time the node fetches it
// (DNS rebinding). So the node checks again where it connects: every address the name resolves to must be
// public (the webhook rules, functions/domain/webhook/target.ts), and the request goes to the address that
// was checked, with the name kept for the Host header and TLS.
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { CLOUD_RULES, resolvedProblem, webhookTarget, type WebhookAddressRules } from '../../functions/domain/webhook/target';

/** what a node lets a consumer's URL input reach: public addresses only, or also loopback (GPUPOOL_INPUT_LOOPBACK=1, the local stack) */
export const inputAddressRules = (allowLoopback: boolean): WebhookAddressRules =>
  allowLoopback ? { allowAddresses: ['loopback'], httpAllowedFor: ['loopback'] } : CLOUD_RULES;

export class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
}

/** The checked address `url` may be fetched from, or a RefusedAddressError saying why not. */
export async function checkedAddress(url: string, rules: WebhookAddressRules, resolve = lookup): Promise<{ address: string; family: 4 | 6; url: URL }> {
  const target = webhookTarget(url, rules);
  if ('problem' in target) throw new RefusedAddressError(target.problem.replace('webhook URL', 'input URL'));
  if (target.address) return { address: target.address.address, family: target.address.family, url: new URL(url) };
  const answers = await resolve(target.host, { all: true, verbatim: true }).catch((e: Error) => {
    throw new RefusedAddressError(`cannot resolve ${target.host}: ${e.message}`);
  });
  const checked = resolvedProblem(target, answers, rules);
  if ('problem' in checked) throw new RefusedAddressError(checked.problem.replace('webhook URL', 'input URL'));
  return { ...checked, url: new URL(url) };
}

/** GET to the checked address only (no redirects followed): the response, or an error. */
export function getPinned(to: { address: string; family: 4 | 6; url: URL }, timeoutMs: number): Promise<{ status: number; contentLength?: number; body: Readable }> {
  const client = to.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(to.url, {
      // the name stays in the URL (Host header, TLS server name and certificate check); the socket goes to the checked address
      lookup: (_host, opts, cb) => ((opts as { all?: boolean }).all ? (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: to.address, family: to.family }]) : cb(null, to.address, to.family)),
      timeout: timeoutMs,
    });
    req.on('response', (res) => {
      const length = Number(res.headers['content-length']);
      resolve({ status: res.statusCode ?? 0, ...(Number.isFinite(length) ? { contentLength: length } : {}), body: res });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
