// Webhook signatures, in the shape Stripe made familiar: `Gpupool-Signature: t=<unix seconds>,v1=<hex>`,
// where v1 = HMAC-SHA256(secret, `${t}.${body}`). While a rotated secret is still in its grace period the
// header carries one v1 per valid secret, so a receiver holding either the old or the new one verifies.
// The timestamp is inside the MAC, so a receiver that refuses old timestamps refuses replays.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Gpupool-Signature';
/** receivers should refuse signatures older than this; verifySignature's default */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signPayload(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** The header value for `body` sent at `timestamp` (unix seconds), signed with every secret given. */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  if (secrets.length === 0) throw new Error('no webhook secret to sign with');
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${signPayload(s, timestamp, body)}`)].join(',');
}

export interface ParsedSignature {
  timestamp: number;
  v1: string[];
}

export function parseSignatureHeader(header: string): ParsedSignature | undefined {
  let timestamp: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) timestamp = Number(v);
    // unknown schemes (v0, a future v2) are ignored, as Stripe's libraries do
    if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) v1.push(v);
  }
  return timestamp === undefined || v1.length === 0 ? undefined : { timestamp, v1 };
}

/**
 * What a receiver does: the header parses, its timestamp is within `toleranceSeconds` of `nowSeconds`,
 * and one v1 equals the HMAC of the exact body bytes received (compared in constant time).
 */
export function verifySignature(
  header: string,
  body: string,
  secret: string,
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  const p = parseSignatureHeader(header);
  if (!p || Math.abs(nowSeconds - p.timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signPayload(secret, p.timestamp, body), 'hex');
  return p.v1.some((v) => timingSafeEqual(Buffer.from(v, 'hex'), expected));
}
