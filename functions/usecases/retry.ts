// One way to retry an optimistic write: each try reads, recomputes and writes conditionally; when the
// write loses to another writer (the typed error `on` names), wait a little and try again, at most
// `retries` more times. The last such error reaches the caller as it was thrown (its class, its fields),
// so callers and the HTTP kit tell it apart by `instanceof`, never by its text. Any other error ends the
// loop at once. applyTransition (effects.ts) retries job transitions through it.
import { DomainError } from '../domain/errors';

export interface RetryOptions<T> {
  /** tries after the first one (0: a single try) */
  retries: number;
  /** true for the error that means "someone else moved it since it was read: read it again" */
  on: (e: unknown) => boolean;
  /**
   * The answer once the retries are spent on `on` errors, where a loop gives up quietly ("left as it is",
   * "the next sweep tries again"); without it, the last such error is thrown. It may throw too.
   */
  exhausted?: (last: unknown) => T | Promise<T>;
  /** injected by tests */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * Runs `op` until it returns, `retries` + 1 tries at most. `attempt` counts from 0 (0: the caller's own
 * read may be used; later tries read again); `last` is the error the previous try lost with.
 */
export async function retrying<T>(op: (attempt: number, last: unknown) => Promise<T>, o: RetryOptions<T>): Promise<T> {
  let last: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(attempt, last);
    } catch (e) {
      if (!o.on(e) || settled.has(e as object)) throw e;
      if (attempt >= o.retries) {
        if (!o.exhausted) throw final(e);
        try {
          return await o.exhausted(e);
        } catch (x) {
          throw final(x);
        }
      }
      last = e;
      await (o.sleep ?? sleep)(retryDelayMs(attempt, o.random));
    }
  }
}

// Errors that are an answer already: a loop's spent retries (an enclosing loop, whose own item did not
// move, does not start them over) or what an op gave up with on purpose (the thing it re-reads is gone).
const settled = new WeakSet<object>();

/** Marks `e` as the answer: no retrying() loop tries again on it. Returns it, for `throw final(e)`. */
export function final<E>(e: E): E {
  if (typeof e === 'object' && e !== null) settled.add(e);
  return e;
}

/** The wait before a retry: never more than this (ms). */
export const MAX_RETRY_DELAY_MS = 170;

/**
 * Before retry `n` (0 first): 10 ms plus up to 40 ms per retry so far, as the stores wait before going
 * again after a transaction conflict (unit-of-work.ts), capped at 4 steps so that a long loop (a gang's
 * ranks, 16 retries) stays well inside a request. The jitter keeps writers that collided from colliding
 * again in step.
 */
export function retryDelayMs(n: number, random: () => number = Math.random): number {
  return 10 + random() * 40 * Math.min(n + 1, 4);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A conditional write the store answered "not written" (false): another writer moved the item since it
 * was read. A 409 with the loop's own words when the retries are spent.
 */
export class LostRaceError extends DomainError {
  override name = 'LostRaceError';
  constructor(message: string) {
    super('conflict', message);
  }
}

export const isLostRace = (e: unknown): e is LostRaceError => e instanceof LostRaceError;

/**
 * Any 409 refusal. The ledger store refuses a post whose node stake lock moved with a plain conflict (no
 * class of its own), and a debit its bucket no longer covers with InsufficientFundsError (a conflict too):
 * both mean the stake moved since it was read.
 */
export const isConflict = (e: unknown): e is DomainError => e instanceof DomainError && e.code === 'conflict';
