// Idempotency-Key on creating POSTs: the same key and body within 24 h return the first response and
// create nothing new; the same key with another body is a 422. Concurrent duplicates wait for the first.
//
// A key is let go only when the request surely changed nothing: it was refused (a domain error or a reply
// that is no success). After a success, or an unexpected error that may have come after the commit, the
// key stays taken even when its answer cannot be written: a retry then gets a 409 that says the first
// request may have taken effect, never a second mint or job (the Stripe rule: an unknown outcome is kept).
import { createHash } from 'node:crypto';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { DomainError } from '../../domain/errors';
import type { Deps } from '../../usecases/deps';
import type { Request } from './request';
import { logger } from '../../observability/logger';

const WAIT_MS = 5_000;
/** writes of the answer after a committed request; the SDK's own retries come on top of these */
const RECORD_TRIES = 3;

/**
 * Keys are shown once and stored only as hashes: a replayed answer says the key was already shown
 * instead of carrying it. A client that lost the first answer issues a new key.
 */
function redactSecrets(body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    let redacted = false;
    // a service's token (POST /v1/services) too: stored only as its sha256 (docs/services.md)
    for (const field of ['apiKey', 'nodeKey', 'token']) {
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
    let res: APIGatewayProxyResult;
    try {
      res = await run();
    } catch (e) {
      // a refusal committed nothing; anything else may have failed after the commit, so the key stays
      if (e instanceof DomainError) await d.idempotency.release(key).catch(() => undefined);
      throw e;
    }
    if (res.statusCode >= 300) {
      await d.idempotency.release(key).catch(() => undefined);
      return res;
    }
    // Committed: the caller gets its answer even when it cannot be kept for replays; the key stays claimed.
    await recordAnswer(d, key, { statusCode: res.statusCode, body: redactSecrets(res.body) });
    return res;
  }
  const deadline = Date.now() + WAIT_MS;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const rec = await d.idempotency.get(key);
    if (rec && rec.bodyHash !== bodyHash) throw new DomainError('idempotency_mismatch', 'this Idempotency-Key was used with another body');
    if (rec?.state === 'COMPLETED' && rec.response) {
      return { statusCode: rec.response.statusCode, headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' }, body: rec.response.body };
    }
    if (!rec) return withIdempotency(d, req, routeKey, run); // the first request was refused and let go
    if (rec.lockedUntil < Math.floor(d.now() / 1000)) throw unknownOutcome();
    if (Date.now() > deadline) throw new DomainError('conflict', `a request with this Idempotency-Key is still in progress, or ${UNKNOWN}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

const UNKNOWN = 'it ended without a recorded answer and may have taken effect: look (GET) before you retry it, with a new key';
const unknownOutcome = () => new DomainError('conflict', `the first request with this Idempotency-Key ${UNKNOWN}`);

/** A few quick tries; when all fail the claim stays, which blocks a second run of the committed request. */
async function recordAnswer(d: Deps, key: string, response: { statusCode: number; body: string }): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      return await d.idempotency.complete(key, response);
    } catch (e) {
      if (tries >= RECORD_TRIES) {
        logger.warn('idempotency answer not recorded; the key stays claimed', { error: e });
        return;
      }
      await new Promise((r) => setTimeout(r, 50 * tries));
    }
  }
}
