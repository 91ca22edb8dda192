// Sends one webhook POST, safely: the URL is checked (domain/webhook/target.ts), a name is resolved once
// and every address must be allowed, and the request goes to the checked address with the URL's Host
// header and TLS name, so DNS cannot answer differently between check and connect. No redirects are
// followed, DNS + connect + answer share one timeout, and the answer's body is read only up to 64 KB
// and then dropped: only the status code is kept.
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { resolvedProblem, webhookTarget, type WebhookAddressRules } from '../domain/webhook/target';

export type SendResult = { statusCode: number } | { error: string };
export type WebhookSender = (url: string, body: string, headers: Record<string, string>) => Promise<SendResult>;
export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

const MAX_ANSWER_BYTES = 64 * 1024;
const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

export function httpWebhookSender(o: { rules: WebhookAddressRules; timeoutMs: number; resolve?: Resolver }): WebhookSender {
  const resolve = o.resolve ?? systemResolver;
  return async (url, body, headers) => {
    const target = webhookTarget(url, o.rules);
    if ('problem' in target) return { error: target.problem };
    const signal = AbortSignal.timeout(o.timeoutMs);
    let address: { address: string; family: 4 | 6 } | undefined = target.address;
    if (!address) {
      let answers: { address: string }[];
      try {
        answers = await Promise.race([resolve(target.host), aborted(signal)]);
      } catch (e) {
        return { error: signal.aborted ? 'timeout' : `cannot resolve ${target.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      }
      const checked = resolvedProblem(target, answers, o.rules);
      if ('problem' in checked) return { error: checked.problem };
      address = checked;
    }
    const defaultPort = target.protocol === 'https:' ? 443 : 80;
    const options: https.RequestOptions = {
      host: address.address,
      family: address.family,
      port: target.port,
      path: target.path || '/',
      method: 'POST',
      agent: false,
      signal,
      headers: {
        ...headers,
        host: target.port === defaultPort ? target.host : `${target.host}:${target.port}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      },
      // the certificate is checked against the URL's name, not the address connected to
      ...(target.protocol === 'https:' && !target.address ? { servername: target.host } : {}),
    };
    const send = target.protocol === 'https:' ? https.request : http.request;
    return await new Promise<SendResult>((done) => {
      const req = send(options, (res) => {
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          // the status is all we keep; a receiver that streams forever is cut off
          if (size > MAX_ANSWER_BYTES) res.destroy();
        });
        const finish = () => done({ statusCode: res.statusCode ?? 0 });
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      });
      req.on('error', (e) => done({ error: signal.aborted ? 'timeout' : describe(e) }));
      req.end(body);
    });
  };
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('timeout')), { once: true }));
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code ? `unreachable (${code})` : `unreachable (${String((e as Error).message ?? e).slice(0, 80)})`;
}
