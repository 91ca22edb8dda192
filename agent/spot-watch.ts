// The spot interruption watcher (GPUPOOL_SPOT_WATCH=1, set by the burst user data): polls EC2 instance
// metadata every 5 s with IMDSv2 — PUT /latest/api/token, then GET /latest/meta-data/spot/instance-action
// with that token; 404 means no notice. EC2 gives a two-minute notice before it reclaims a spot instance;
// on the first one the agent drains (no new work, running attempts handed back at once so the control plane
// re-places them while this instance still answers), instead of waiting for the reaper to miss heartbeats.
//
// Instances launched by burst require IMDSv2 (hop limit 1), so there is no IMDSv1 fallback.
import { sleep } from './backoff';
import type { Logger } from './log';

export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
/** AWS's own guidance for the notice: poll every 5 s */
export const SPOT_POLL_MS = 5_000;
/** tokens live up to 6 h; a fresh one an hour before expiry avoids a 401 mid-poll */
const TOKEN_TTL_SECONDS = 21_600;
const TOKEN_REFRESH_MARGIN_MS = 3_600_000;
/** IMDS answers in microseconds; a request hanging longer means it is not there */
const REQUEST_TIMEOUT_MS = 2_000;

/** The body of spot/instance-action: what EC2 will do and when (ISO 8601, UTC). */
export interface SpotNotice {
  action: string;
  time?: string;
}

export interface SpotWatchOptions {
  /** the metadata service's base URL; GPUPOOL_IMDS_ENDPOINT overrides it for tests */
  endpoint?: string;
  intervalMs?: number;
  log: Logger;
  onNotice(notice: SpotNotice): void;
  fetch?: typeof fetch;
  now?: () => number;
}

export class SpotWatcher {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly stopped = new AbortController();
  private token?: { value: string; refreshAt: number };
  private failing = false;
  private loop?: Promise<void>;

  constructor(private readonly o: SpotWatchOptions) {
    this.base = (o.endpoint ?? DEFAULT_IMDS_ENDPOINT).replace(/\/+$/, '');
    this.fetchFn = o.fetch ?? fetch;
    this.now = o.now ?? Date.now;
  }

  /** Polls until the first notice (handed to onNotice once) or stop(). */
  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { log } = this.o;
    while (!this.stopped.signal.aborted) {
      try {
        const notice = await this.check();
        if (this.failing) log.info('spot watch: instance metadata answers again');
        this.failing = false;
        if (notice) {
          if (!this.stopped.signal.aborted) this.o.onNotice(notice);
          return;
        }
      } catch (err) {
        if (this.stopped.signal.aborted) return;
        // said once per outage: off EC2, or with IMDS disabled, this would otherwise log every 5 s
        if (!this.failing) log.warn('spot watch: instance metadata unreachable; still polling', { err, endpoint: this.base });
        this.failing = true;
      }
      await sleep(this.o.intervalMs ?? SPOT_POLL_MS, this.stopped.signal);
    }
  }

  /** One poll: the notice if there is one, undefined if not; throws when IMDS cannot be asked. */
  async check(): Promise<SpotNotice | undefined> {
    for (let tries = 1; ; tries++) {
      const token = await this.currentToken();
      const res = await this.request('GET', '/latest/meta-data/spot/instance-action', { 'x-aws-ec2-metadata-token': token });
      if (res.status === 404) return undefined;
      // an expired or revoked token: one fresh token, then give up until the next poll
      if (res.status === 401 && tries === 1) {
        this.token = undefined;
        continue;
      }
      if (res.status !== 200) throw new Error(`instance-action answered ${res.status}`);
      return parseNotice(res.body);
    }
  }

  private async currentToken(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return this.token.value;
    const res = await this.request('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) });
    if (res.status !== 200 || !res.body) throw new Error(`token request answered ${res.status}`);
    this.token = { value: res.body.trim(), refreshAt: this.now() + TOKEN_TTL_SECONDS * 1000 - TOKEN_REFRESH_MARGIN_MS };
    return this.token.value;
  }

  private async request(method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const res = await this.fetchFn(`${this.base}${path}`, { method, headers, signal: AbortSignal.any([timeout, this.stopped.signal]) });
    return { status: res.status, body: await res.text() };
  }
}

/** `{"action": "terminate", "time": "2026-01-02T03:04:05Z"}`; anything else still counts as a notice. */
export function parseNotice(body: string): SpotNotice {
  try {
    const j = JSON.parse(body) as { action?: unknown; time?: unknown };
    return { action: typeof j.action === 'string' ? j.action : 'unknown', ...(typeof j.time === 'string' ? { time: j.time } : {}) };
  } catch {
    return { action: 'unknown' };
  }
}
