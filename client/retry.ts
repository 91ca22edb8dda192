// When a failed call is tried again, and after how long. Pure: the clock and the dice come in.
import { ApiError, NetworkError } from './errors';

export interface RetryOptions {
  /** tries after the first; 0 turns retrying off (default 4) */
  retries?: number;
  /** the first backoff, doubled on each further try (default 500 ms) */
  baseDelayMs?: number;
  /** the longest backoff of one wait (default 10 s) */
  maxDelayMs?: number;
  /** a Retry-After longer than this is not waited out: the 429 is thrown at once (default 60 s) */
  maxRetryAfterMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { retries: 4, baseDelayMs: 500, maxDelayMs: 10_000, maxRetryAfterMs: 60_000 };

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with equal jitter: half the step fixed, half random, so clients do not retry in lockstep. */
export function backoffMs(attempt: number, o: Required<RetryOptions>, random: () => number): number {
  const step = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (step / 2) * random());
}

/**
 * How long to wait before try `attempt + 1` after `e` failed try `attempt`; undefined: do not retry.
 * - 429: the request was refused before it did anything, so any call may be repeated; Retry-After is waited
 *   out as given (a longer one than maxRetryAfterMs is not), else the backoff.
 * - 5xx and no answer: the request may have taken effect, so only a `repeatable` one (a GET, or a call that
 *   carries an Idempotency-Key the server deduplicates on) is tried again; a 503's Retry-After is honoured.
 * - Anything else (4xx): the same request would fail the same way.
 */
export function retryDelay(e: unknown, attempt: number, repeatable: boolean, o: Required<RetryOptions>, random: () => number): number | undefined {
  if (attempt > o.retries) return undefined;
  if (e instanceof ApiError) {
    if (e.status === 429) {
      if (e.retryAfterMs === undefined) return backoffMs(attempt, o, random);
      return e.retryAfterMs <= o.maxRetryAfterMs ? e.retryAfterMs : undefined;
    }
    if (e.status >= 500 && repeatable) return e.retryAfterMs !== undefined && e.retryAfterMs <= o.maxRetryAfterMs ? e.retryAfterMs : backoffMs(attempt, o, random);
    return undefined;
  }
  if (e instanceof NetworkError && repeatable) return backoffMs(attempt, o, random);
  return undefined;
}
