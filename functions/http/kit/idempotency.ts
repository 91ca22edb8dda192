// Idempotency-Key on creating POSTs: the same key and body within 24 h return the first response and
// create nothing new; the same key with another body is a 422. Concurrent duplicates wait for the first.
import { createHash } from 'node:crypto';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { DomainError } from '../../domain/errors';
import type { Deps } from '../../usecases/deps';
import type { Request } from './request';

const WAIT_MS = 5_000;

/**
 * Keys are shown once and stored only as hashes: a replayed answer says the key was already shown
 * instead of carrying it. A client that lost the first answer issues a new key.
 */
function redactSecrets(body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    let redacted = false;
    for (const field of ['apiKey', 'nodeKey']) {
      if (typeof parsed[field] === 'string') {
        parsed[field] = null;
        redacted = true;
      }
    }
    return redacted ? JSON.stringify({ ...parsed, secretShownOnce: true }) : body;
  } catch {
    return body;
  }
}

export async function withIdempotency(d: Deps, req: Request, routeKey: string, run: () => Promise<APIGatewayProxyResult>): Promise<APIGatewayProxyResult> {
  const idem = req.headers['idempotency-key'];
  if (idem === undefined) return run();
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(idem)) throw new DomainError('bad_request', 'Idempotency-Key must be 1-128 characters of [A-Za-z0-9_.:-]');
  const key = `${req.caller?.accountId ?? '-'}#${routeKey}#${JSON.stringify(req.params)}#${idem}`;
  const bodyHash = createHash('sha256').update(req.rawBody).digest('hex');
  if (await d.idempotency.claim(key, bodyHash, d.now())) {
    try {
      const res = await run();
      if (res.statusCode < 300) await d.idempotency.complete(key, { statusCode: res.statusCode, body: redactSecrets(res.body) });
      else await d.idempotency.release(key);
      return res;
    } catch (e) {
      await d.idempotency.release(key).catch(() => undefined);
      throw e;
    }
  }
  const deadline = Date.now() + WAIT_MS;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const rec = await d.idempotency.get(key);
    if (rec && rec.bodyHash !== bodyHash) throw new DomainError('idempotency_mismatch', 'this Idempotency-Key was used with another body');
    if (rec?.state === 'COMPLETED' && rec.response) {
      return { statusCode: rec.response.statusCode, headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' }, body: rec.response.body };
    }
    if (!rec) return withIdempotency(d, req, routeKey, run); // the first request failed and let go
    if (Date.now() > deadline) throw new DomainError('conflict', 'a request with this Idempotency-Key is still in progress');
    await new Promise((r) => setTimeout(r, delay));
  }
}
