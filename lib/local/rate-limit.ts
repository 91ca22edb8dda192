// The local gateway's stand-in for an API Gateway usage plan: per caller a token bucket (steady rate,
// burst size) and a daily quota (UTC days, as API Gateway's DAY period), with the same numbers as the
// CDK usage-plan tier (lib/config.ts `usagePlan`). A throttled caller gets the 429 API Gateway gives,
// as a problem document with Retry-After. docs/api.md says how this maps to AWS.
import { resolveStageConfig, type UsagePlanTier } from '../config';
import { CDK_JSON, cdkJsonContext } from './cdk-json';

export type RateLimitOptions = UsagePlanTier;

export type Verdict = { ok: true } | { ok: false; reason: 'rate' | 'quota'; retryAfterSeconds: number };

const DAY_MS = 86_400_000;

interface Bucket {
  tokens: number;
  at: number;
  day: number;
  used: number;
}

/** Per-caller token buckets. `take(id)` spends one request of `id`'s allowance, or says when to retry. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limits: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limits.rateLimit > 0) || !(limits.burstLimit >= 1) || !(limits.quotaPerDay >= 1)) {
      throw new Error(`rate limits must be positive: ${JSON.stringify(limits)}`);
    }
  }

  take(id: string): Verdict {
    const now = this.now();
    const day = Math.floor(now / DAY_MS);
    const { rateLimit, burstLimit, quotaPerDay } = this.limits;
    let b = this.buckets.get(id);
    if (!b) {
      if (this.buckets.size >= 100_000) this.prune(now);
      b = { tokens: burstLimit, at: now, day, used: 0 };
      this.buckets.set(id, b);
    }
    b.tokens = Math.min(burstLimit, b.tokens + ((now - b.at) / 1000) * rateLimit);
    b.at = now;
    if (b.day !== day) {
      b.day = day;
      b.used = 0;
    }
    if (b.used >= quotaPerDay) return { ok: false, reason: 'quota', retryAfterSeconds: Math.max(1, Math.ceil(((day + 1) * DAY_MS - now) / 1000)) };
    if (b.tokens < 1) return { ok: false, reason: 'rate', retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / rateLimit)) };
    b.tokens -= 1;
    b.used += 1;
    return { ok: true };
  }

  /** Forgets callers whose bucket is full again and who used nothing today: they start afresh anyway. */
  private prune(now: number) {
    const day = Math.floor(now / DAY_MS);
    for (const [id, b] of this.buckets) {
      const full = b.tokens + ((now - b.at) / 1000) * this.limits.rateLimit >= this.limits.burstLimit;
      if (full && b.day !== day) this.buckets.delete(id);
    }
  }
}

/** The default tier as `cdk deploy` would use it: cdk.json's context through the same validation (lib/config.ts). */
export function usagePlanFromCdkJson(file = CDK_JSON): RateLimitOptions {
  return resolveStageConfig(cdkJsonContext(file)).usagePlan;
}
