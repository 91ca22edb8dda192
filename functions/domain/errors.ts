// Domain errors carry a stable code and no transport: the HTTP kit maps each code to a status and turns the
// error into an RFC 9457 problem document (functions/http/kit/problem.ts). Anything that is not a
// DomainError becomes an opaque 500.

export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'idempotency_mismatch'
  | 'throttled';

export interface FieldError {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
  }
}

/**
 * The job's item is no longer at the version the caller read (another writer moved it first). A conflict
 * (409 to an HTTP caller); a use case that can simply read again retries it through
 * `applyTransition(…, { retries })`. Recognised by `instanceof`, never by its message.
 */
export class JobChangedError extends DomainError {
  override name = 'JobChangedError';
  constructor() {
    super('conflict', 'job changed concurrently');
  }
}

export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const conflict = (message: string) => new DomainError('conflict', message);
export const forbidden = (message = 'this key may not do that') => new DomainError('forbidden', message);

/**
 * For `.catch(ignoreDomainError)`: an expected refusal (conflict, not found …) means there is nothing to do;
 * anything else (a store fault) still fails the caller.
 */
export function ignoreDomainError(e: unknown): undefined {
  if (e instanceof DomainError) return undefined;
  throw e;
}
