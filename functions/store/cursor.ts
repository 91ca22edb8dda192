// Opaque pagination cursors: the DynamoDB key, base64url JSON. Decoding checks the shape and that the
// cursor belongs to the partition being read, so a forged cursor is a 400, never another tenant's page.
import { DomainError } from '../domain/errors';

export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

/**
 * `keys`, when given, is the exact key of the table or index page (name → type): a cursor with other or
 * missing attributes would make DynamoDB fail the request, so it is a 400 here instead.
 */
export function decodeCursor(
  cursor: string | undefined,
  expect: Record<string, string>,
  keys?: Record<string, 'string' | 'number'>,
): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    const ok =
      key && typeof key === 'object' && !Array.isArray(key) && Object.entries(expect).every(([k, v]) => key[k] === v) &&
      // DynamoDB refuses empty strings and non-finite numbers in a key: those are forged, not ours
      Object.values(key).every((v) => (typeof v === 'string' && v.length > 0) || (typeof v === 'number' && Number.isFinite(v))) &&
      (!keys || (Object.keys(key).length === Object.keys(keys).length && Object.entries(keys).every(([k, t]) => typeof key[k] === t)));
    if (ok) return key;
  } catch {
    /* fall through */
  }
  throw new DomainError('bad_request', 'invalid cursor');
}
