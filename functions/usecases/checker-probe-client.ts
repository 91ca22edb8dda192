// Sends one signed probe over HTTP(S) to a node's probe URL, safely: the URL is checked (scheme, no
// credentials, host class), a name is resolved once and every address it resolves to must be allowed, and
// the request goes to the checked address with the original Host header (and TLS name), so a DNS answer
// that changes between check and connect cannot point the checker elsewhere. No redirects are followed,
// the whole exchange has one timeout, and at most MAX_PROBE_BODY_BYTES of the answer are read.
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { addressProblem, classifyHost, probeTarget, type AddressClass } from '../domain/checker/address';
import { MAX_PROBE_BODY_BYTES, type SignedProbe } from '../domain/checker/probe';

export interface ProbeReply {
  status: number;
  body: unknown;
}

/** Sends `body` to `url` and returns the answer; throws ProbeError (or a network error) when there is none. */
export type Prober = (url: string, body: SignedProbe, timeoutMs: number) => Promise<ProbeReply>;

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

/** A refusal before any packet is sent (the SSRF guard) or a failure the checker names itself. */
export class ProbeError extends Error {
  override name = 'ProbeError';
}

const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

/** The address to connect to for `url`, or a ProbeError saying why none may be used. */
export async function resolveProbeTarget(url: string, allow: readonly AddressClass[], resolve: Resolver = systemResolver) {
  const target = probeTarget(url, allow);
  if ('problem' in target) throw new ProbeError(target.problem);
  if (target.address) return { target, address: target.address };
  let answers: { address: string; family: number }[];
  try {
    answers = await resolve(target.host);
  } catch (e) {
    throw new ProbeError(`cannot resolve ${target.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (answers.length === 0) throw new ProbeError(`${target.host} has no address`);
  // every answer must be allowed: a name with one public and one private address is refused outright
  for (const a of answers) {
    const c = classifyHost(a.address);
    if (!c || c.kind !== 'ip') throw new ProbeError(`${target.host} resolved to an unreadable address`);
    const problem = addressProblem(c.class, allow);
    if (problem) throw new ProbeError(`${target.host} resolves to a ${problem}`);
  }
  const first = classifyHost(answers[0].address) as { address: string; family: 4 | 6 };
  return { target, address: { address: first.address, family: first.family } };
}

export function httpProber(o: { allow: readonly AddressClass[]; resolve?: Resolver }): Prober {
  return async (url, body, timeoutMs) => {
    const signal = AbortSignal.timeout(timeoutMs);
    const timedOut = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new ProbeError('timeout')), { once: true }));
    timedOut.catch(() => undefined);
    const { target, address } = await Promise.race([resolveProbeTarget(url, o.allow, o.resolve), timedOut]);
    const payload = JSON.stringify(body);
    const defaultPort = target.protocol === 'https:' ? 443 : 80;
    const hostHeader = target.port === defaultPort ? target.host : `${target.host}:${target.port}`;
    const isName = !target.address;
    const options: https.RequestOptions = {
      host: address.address,
      family: address.family,
      port: target.port,
      path: target.path,
      method: 'POST',
      agent: false,
      signal,
      headers: { host: hostHeader, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), accept: 'application/json' },
      // TLS checks the certificate against the name in the URL, not the address we connect to
      ...(target.protocol === 'https:' && isName ? { servername: target.host } : {}),
    };
    const send = target.protocol === 'https:' ? https.request : http.request;
    return await new Promise<ProbeReply>((resolve, reject) => {
      const req = send(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_PROBE_BODY_BYTES) return req.destroy(new ProbeError('answer too large'));
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('error', (e) => reject(signal.aborted ? new ProbeError('timeout') : e));
      req.end(payload);
    });
  };
}

/** A short, stable reason for a failed probe (the score's `reason`). */
export function probeFailureReason(e: unknown): string {
  if (e instanceof ProbeError) return e.message;
  const code = (e as NodeJS.ErrnoException)?.code;
  if ((e as Error)?.name === 'AbortError' || (e as Error)?.name === 'TimeoutError') return 'timeout';
  return code ? `unreachable (${code})` : `unreachable (${String((e as Error)?.message ?? e).slice(0, 80)})`;
}
