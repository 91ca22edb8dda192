// The API client: fetch with the caller's key, JSON in and out, problem documents turned into ApiError.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { ApiError, CliError, type Problem } from './errors';

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiClientOptions {
  fetch?: typeof fetch;
  /** per request; default 30 s */
  timeoutMs?: number;
  userAgent?: string;
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(
    baseUrl: string,
    private readonly apiKey: string,
    o: ApiClientOptions = {},
  ) {
    this.baseUrl = normalizeBaseUrl(baseUrl);
    this.fetchFn = o.fetch ?? fetch;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.userAgent = o.userAgent ?? 'gpupool-cli';
  }

  url(path: string, query?: Query): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
    const s = qs.toString();
    return `${this.baseUrl}${path}${s ? `?${s}` : ''}`;
  }

  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const url = this.url(path, o.query);
    const headers: Record<string, string> = { 'x-api-key': this.apiKey, accept: 'application/json', 'user-agent': this.userAgent, ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout,
      });
    } catch (e) {
      throw networkError(url, e, timeout.aborted ? this.timeoutMs : undefined);
    }
    const text = await res.text();
    if (!res.ok) throw new ApiError(toProblem(res.status, res.statusText, res.headers.get('content-type'), text));
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${url}: the answer is not JSON (HTTP ${res.status})`);
    }
  }

  get<T = unknown>(path: string, query?: Query, signal?: AbortSignal) {
    return this.request<T>('GET', path, { query, signal });
  }
  post<T = unknown>(path: string, body: unknown = {}, headers?: Record<string, string>) {
    return this.request<T>('POST', path, { body, headers });
  }
  patch<T = unknown>(path: string, body: unknown) {
    return this.request<T>('PATCH', path, { body });
  }
  del<T = unknown>(path: string) {
    return this.request<T>('DELETE', path);
  }
}

/** "http://h:8787/" → "http://h:8787"; a URL without a scheme is an error. */
export function normalizeBaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(`not a URL: ${raw} (expected e.g. http://127.0.0.1:8787)`, 2);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError(`the API URL must be http(s): ${raw}`, 2);
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

/** An error answer as a problem document: the API's own when it sent one, else one made from the answer. */
export function toProblem(status: number, statusText: string, contentType: string | null, text: string): Problem {
  statusText ||= STATUS_CODES[status] ?? '';
  if (text && /json/i.test(contentType ?? '')) {
    try {
      const p = JSON.parse(text) as Partial<Problem> & { message?: string };
      if (p && typeof p === 'object' && (typeof p.title === 'string' || typeof p.detail === 'string')) {
        return {
          type: p.type,
          title: p.title ?? statusText ?? `HTTP ${status}`,
          status: typeof p.status === 'number' ? p.status : status,
          detail: p.detail,
          ...(Array.isArray(p.errors) ? { errors: p.errors.map((e) => ({ path: String(e?.path ?? ''), message: String(e?.message ?? '') })) } : {}),
        };
      }
      // API Gateway's own errors look like {"message": "..."}
      if (p && typeof p.message === 'string') return { title: statusText || `HTTP ${status}`, status, detail: p.message };
    } catch {
      /* fall through */
    }
  }
  const body = text.trim().replace(/\s+/g, ' ').slice(0, 300);
  return { title: statusText || `HTTP ${status}`, status, detail: body || `HTTP ${status}` };
}

function networkError(url: string, e: unknown, timedOutAfter?: number): CliError {
  const origin = (() => {
    try {
      return new URL(url).origin;
    } catch {
      return url;
    }
  })();
  if (timedOutAfter !== undefined) return new NetworkError(`no answer from ${origin} within ${timedOutAfter / 1000}s`);
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'AbortError') return new NetworkError('request aborted');
  const why = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
  return new NetworkError(`cannot reach ${origin}: ${why}`);
}

/** The API could not be reached (refused, reset, DNS, timeout): worth retrying while watching a job. */
export class NetworkError extends CliError {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

/** Errors a long-running watcher should ride out: the network, throttling, gateway and server errors. */
export function isTransient(e: unknown): boolean {
  if (e instanceof NetworkError) return true;
  return e instanceof ApiError && (e.status === 429 || e.status >= 500);
}

/**
 * A POST that must take effect once (submit a job, mint credits): one Idempotency-Key for every try, so a
 * retry after a lost answer never acts twice. Up to three tries, 0.5 s then 1 s apart, on transient errors.
 */
export async function postIdempotent<T>(api: Pick<ApiClient, 'post'>, path: string, body: unknown): Promise<T> {
  const key = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.post<T>(path, body, { 'idempotency-key': key });
    } catch (e) {
      if (!isTransient(e) || attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}
