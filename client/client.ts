// The gpupool API client: typed calls over fetch, with the caller's key. Throttled calls (429) are tried
// again after their Retry-After; 5xx answers and lost connections are tried again, with backoff, only for
// calls that cannot act twice: GETs, and creating POSTs, which carry one Idempotency-Key across all their
// tries so the server answers a repeat with the first answer. No Node-only imports: it runs in a browser too.
import { ApiError, NetworkError, type Problem } from './errors';
import { DEFAULT_RETRY, parseRetryAfter, retryDelay, type RetryOptions } from './retry';
import type {
  Account, Balance, CancelAnswer, CreateAccountRequest, CreatedAccount, Health, IssuedKey, Job, ListQuery, LogsPage, LogsQuery, MintAnswer, MintRequest, Node,
  Offer, OffersQuery, Page, PatchNodeRequest, StakeAnswer, SubmitAnswer, SubmitJobRequest, UnstakeAnswer,
} from './types';

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** send an Idempotency-Key (this one, or a new random one when `true`), the same on every try */
  idempotencyKey?: string | true;
}

export interface RetryEvent {
  method: string;
  path: string;
  /** the try that failed, from 1 */
  attempt: number;
  waitMs: number;
  error: unknown;
}

export interface ClientOptions {
  /** e.g. https://api.example.com or http://127.0.0.1:8787 */
  baseUrl: string;
  apiKey?: string;
  fetch?: typeof fetch;
  /** per try; default 30 s */
  timeoutMs?: number;
  userAgent?: string;
  retry?: RetryOptions;
  /** told before each wait, e.g. to show "throttled, retrying in 2 s" */
  onRetry?: (e: RetryEvent) => void;
  /** for tests: how to wait, and the dice of the jitter */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Content Too Large',
  415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

const seg = (s: string) => encodeURIComponent(s);

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class GpupoolClient {
  readonly baseUrl: string;
  private readonly apiKey?: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly userAgent?: string;
  private readonly retry: Required<RetryOptions>;
  private readonly onRetry?: (e: RetryEvent) => void;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(o: ClientOptions) {
    this.baseUrl = normalizeBaseUrl(o.baseUrl);
    this.apiKey = o.apiKey;
    this.fetchFn = o.fetch ?? ((...a) => fetch(...a));
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.userAgent = o.userAgent;
    this.retry = { ...DEFAULT_RETRY, ...o.retry };
    this.onRetry = o.onRetry;
    this.sleep = o.sleep ?? abortableSleep;
    this.random = o.random ?? Math.random;
    this.now = o.now ?? Date.now;
  }

  url(path: string, query?: Query): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
    const s = qs.toString();
    return `${this.baseUrl}${path}${s ? `?${s}` : ''}`;
  }

  /** One call, tried again as the class comment says. Resolves to the parsed JSON answer (undefined when empty). */
  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const url = this.url(path, o.query);
    const headers: Record<string, string> = { accept: 'application/json', ...(this.apiKey ? { 'x-api-key': this.apiKey } : {}), ...(this.userAgent ? { 'user-agent': this.userAgent } : {}), ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.idempotencyKey !== undefined) headers['idempotency-key'] = o.idempotencyKey === true ? globalThis.crypto.randomUUID() : o.idempotencyKey;
    const repeatable = method === 'GET' || method === 'HEAD' || headers['idempotency-key'] !== undefined;
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, url, headers, body, o.signal);
      } catch (e) {
        const waitMs = o.signal?.aborted ? undefined : retryDelay(e, attempt, repeatable, this.retry, this.random);
        if (waitMs === undefined) throw e;
        this.onRetry?.({ method, path, attempt, waitMs, error: e });
        await this.sleep(waitMs, o.signal);
      }
    }
  }

  private async once<T>(method: string, url: string, headers: Record<string, string>, body: string | undefined, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, body, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (e) {
      throw networkError(url, e, timeout.aborted && !signal?.aborted ? this.timeoutMs : undefined);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw networkError(url, e, timeout.aborted && !signal?.aborted ? this.timeoutMs : undefined);
    }
    if (!res.ok) throw new ApiError(toProblem(res.status, res.statusText, res.headers.get('content-type'), text), parseRetryAfter(res.headers.get('retry-after'), this.now()));
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({ title: 'Bad answer', status: res.status, detail: `${method} ${url}: the answer is not JSON (HTTP ${res.status})` });
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

  // ---- typed calls (docs/api.md). Creating POSTs carry an Idempotency-Key: pass your own to make a
  // retry across processes safe too (e.g. one derived from your own record's id).

  health() {
    return this.get<Health>('/v1/health');
  }
  /** the key's account, its role and its balances */
  balance() {
    return this.get<Balance>('/v1/balance');
  }
  submitJob(job: SubmitJobRequest, o: { idempotencyKey?: string } = {}) {
    return this.request<SubmitAnswer>('POST', '/v1/jobs', { body: job, idempotencyKey: o.idempotencyKey ?? true });
  }
  listJobs(q: ListQuery = {}) {
    return this.get<Page<Job>>('/v1/jobs', q);
  }
  getJob(id: string, signal?: AbortSignal) {
    return this.get<{ job: Job }>(`/v1/jobs/${seg(id)}`, undefined, signal);
  }
  cancelJob(id: string) {
    return this.del<CancelAnswer>(`/v1/jobs/${seg(id)}`);
  }
  jobLogs(id: string, q: LogsQuery = {}, signal?: AbortSignal) {
    return this.get<LogsPage>(`/v1/jobs/${seg(id)}/logs`, q, signal);
  }
  offers(q: OffersQuery = {}) {
    return this.get<{ items: Offer[] }>('/v1/offers', q as Query);
  }
  listNodes(q: ListQuery = {}) {
    return this.get<Page<Node>>('/v1/nodes', q);
  }
  getNode(id: string) {
    return this.get<{ node: Node }>(`/v1/nodes/${seg(id)}`);
  }
  patchNode(id: string, patch: PatchNodeRequest) {
    return this.patch<{ node: Node }>(`/v1/nodes/${seg(id)}`, patch);
  }
  createAccount(body: CreateAccountRequest, o: { idempotencyKey?: string } = {}) {
    return this.request<CreatedAccount>('POST', '/v1/accounts', { body, idempotencyKey: o.idempotencyKey ?? true });
  }
  getAccount(id: string) {
    return this.get<Account>(`/v1/accounts/${seg(id)}`);
  }
  createKey(accountId: string, o: { idempotencyKey?: string } = {}) {
    return this.request<IssuedKey>('POST', `/v1/accounts/${seg(accountId)}/keys`, { body: {}, idempotencyKey: o.idempotencyKey ?? true });
  }
  revokeKey(keyId: string) {
    return this.del<void>(`/v1/keys/${seg(keyId)}`);
  }
  /** admins: amount in micro-credits */
  mintCredits(accountId: string, body: MintRequest, o: { idempotencyKey?: string } = {}) {
    return this.request<MintAnswer>('POST', `/v1/accounts/${seg(accountId)}/credits`, { body, idempotencyKey: o.idempotencyKey ?? true });
  }
  stake(amount: number) {
    return this.post<StakeAnswer>('/v1/stake', { amount });
  }
  unstake(amount: number) {
    return this.post<UnstakeAnswer>('/v1/unstake', { amount });
  }
}

/** "http://h:8787/" → "http://h:8787"; anything but an http(s) URL is a TypeError. */
export function normalizeBaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new TypeError(`not a URL: ${raw} (expected e.g. http://127.0.0.1:8787)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`the API URL must be http(s): ${raw}`);
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

/** An error answer as a problem document: the API's own when it sent one, else one made from the answer. */
export function toProblem(status: number, statusText: string, contentType: string | null, text: string): Problem {
  statusText ||= REASONS[status] ?? '';
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

function networkError(url: string, e: unknown, timedOutAfter?: number): NetworkError {
  const origin = URL.canParse(url) ? new URL(url).origin : url;
  if (timedOutAfter !== undefined) return new NetworkError(`no answer from ${origin} within ${timedOutAfter / 1000}s`, { cause: e });
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'AbortError') return new NetworkError('request aborted', { cause: e });
  const why = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
  return new NetworkError(`cannot reach ${origin}: ${why}`, { cause: e });
}
