// Calls the gpupool API on the same origin (the local gateway, or CloudFront routing /v1/* to API
// Gateway), with the session's key. Errors are the API's problem documents, turned into ApiError.
import { session } from './session';

export interface ProblemIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly issues: ProblemIssue[] = [],
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

/** Called on a 401: the key was revoked or mistyped, so the console goes back to the sign-in form. */
let onUnauthorized: () => void = () => undefined;
export const setUnauthorizedHandler = (fn: () => void) => (onUnauthorized = fn);

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, key = session.key()): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      accept: 'application/json',
      ...(key ? { 'x-api-key': key } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    // the key is sent as a header; no cookies are involved anywhere
    credentials: 'omit',
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && key === session.key()) onUnauthorized();
    throw new ApiError(res.status, parsed?.title ?? res.statusText ?? 'request failed', parsed?.detail, Array.isArray(parsed?.errors) ? parsed.errors : []);
  }
  return parsed as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
