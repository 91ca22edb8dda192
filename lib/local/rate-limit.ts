// The local gateway's stand-in for API Gateway's usage plans: per caller a token bucket (steady rate,
// burst size) and a daily quota (UTC days, as API Gateway's DAY period), with the same numbers as the
// CDK usage-plan tiers (lib/config.ts `usagePlan`, `agentUsagePlan`). Two tiers, metered apart: node keys
// per node in the agent tier, every other key per account in the account tier. A throttled caller gets
// the 429 API Gateway gives, as a problem document with Retry-After. docs/api.md says how this maps to AWS.
import type { Caller } from '../../functions/domain/model';
import { usageSubjectOf, type UsageTier } from '../../functions/domain/usage-bucket';
import type { AgentUsagePlanTier, UsagePlanTier } from '../config';

export type RateLimitOptions = UsagePlanTier;
/** the agent tier has no daily quota (lib/config.ts says why) */
export type AgentRateLimitOptions = AgentUsagePlanTier;

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

  readonly limits: RateLimitOptions;

  constructor(
    limits: RateLimitOptions | AgentRateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { quotaPerDay: Infinity, ...limits };
    if (!(limits.rateLimit > 0) || !(limits.burstLimit >= 1) || !(this.limits.quotaPerDay >= 1)) {
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

export interface UsagePlanLimits {
  /** consumer, provider and admin keys, per account; none: unmetered */
  account?: RateLimitOptions;
  /** node keys, per node; none: unmetered */
  agent?: AgentRateLimitOptions;
}

/**
 * Both tiers: a caller spends its own subject's allowance (its node for a node key, its account otherwise),
 * so no account's traffic can throttle a node's heartbeats and no node's traffic another node's.
 */
export class UsagePlanMeter {
  private readonly tiers: Partial<Record<UsageTier, RateLimiter>>;

  constructor(limits: UsagePlanLimits, now: () => number = Date.now) {
    this.tiers = {
      ...(limits.account ? { account: new RateLimiter(limits.account, now) } : {}),
      ...(limits.agent ? { agent: new RateLimiter(limits.agent, now) } : {}),
    };
  }

  take(caller: Caller): Verdict & { tier: UsageTier } {
    const { tier, id } = usageSubjectOf(caller);
    return { ...(this.tiers[tier]?.take(id) ?? { ok: true }), tier };
  }
}
