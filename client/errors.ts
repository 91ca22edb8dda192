// What a call can fail with: the API's answer (a problem document) or no answer at all.

/** An RFC 9457 problem document as the API returns it. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

/** The API answered with an error status; `problem` is its problem document (or one made from the answer). */
export class ApiError extends Error {
  constructor(
    readonly problem: Problem,
    /** the answer's Retry-After, in milliseconds, when it had one */
    readonly retryAfterMs?: number,
  ) {
    super(`${problem.title}: ${problem.detail ?? ''}`.replace(/: $/, ''));
    this.name = 'ApiError';
  }
  get status(): number {
    return this.problem.status;
  }
  /** one `path: message` line per field error of the problem */
  get hints(): string[] {
    return (this.problem.errors ?? []).map((e) => `${e.path}: ${e.message}`);
  }
}

/** The API could not be reached (refused, reset, DNS, timeout): no answer came. */
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

/** Worth another try later: no answer, throttled (429), or a gateway or server error (5xx). */
export function isTransient(e: unknown): boolean {
  if (e instanceof NetworkError) return true;
  return e instanceof ApiError && (e.status === 429 || e.status >= 500);
}
