// Retry pacing shared by the poller, the log batcher, finish and startup, so the tiers cannot drift apart.

/** Delay tiers in ms by consecutive failure count; the last tier repeats. */
export const DEFAULT_TIERS = [500, 1_000, 2_000, 5_000, 10_000, 30_000] as const;

/**
 * Jittered delay before retry number `failures` (1-based). The delay lies in [50%, 100%] of its tier, so a
 * fleet of agents that lost the control plane together does not come back in lockstep.
 */
export function backoffDelay(failures: number, tiers: readonly number[] = DEFAULT_TIERS, random = Math.random): number {
  const tier = tiers[Math.min(Math.max(failures, 1), tiers.length) - 1];
  return Math.round(tier * (0.5 + random() * 0.5));
}

/** Resolves after `ms`, or at once when `signal` aborts; never rejects, so callers just re-check their state. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
