// When a failed delivery is tried again. Attempt 1 is sent when the job ends; attempt n+1 waits
// delays[n-1] seconds after attempt n failed; after the last delay's attempt the delivery is given up.
// Delays are SQS DelaySeconds on AWS, so each must be at most 900.

/** 10 s, 1 min, 10 min: four attempts in about 11 minutes */
export const DEFAULT_RETRY_DELAYS_SECONDS: readonly number[] = [10, 60, 600];
export const MAX_SQS_DELAY_SECONDS = 900;

export function validateDelays(delays: readonly number[]): readonly number[] {
  if (delays.length > 10) throw new Error('at most 10 webhook retries');
  for (const d of delays) {
    if (!Number.isInteger(d) || d < 0 || d > MAX_SQS_DELAY_SECONDS) throw new Error(`webhook retry delay ${d} must be an integer in 0..${MAX_SQS_DELAY_SECONDS} seconds`);
  }
  return delays;
}

/** Attempts in all, the first included. */
export const maxAttempts = (delays: readonly number[]) => delays.length + 1;

/** Seconds to wait before attempt `attempt + 1`, or undefined when `attempt` (1-based) was the last. */
export function retryDelay(attempt: number, delays: readonly number[]): number | undefined {
  return attempt >= 1 && attempt <= delays.length ? delays[attempt - 1] : undefined;
}

/** Only 2xx counts as delivered; redirects are not followed (they could point anywhere). */
export const isDelivered = (statusCode: number | undefined) => statusCode !== undefined && statusCode >= 200 && statusCode < 300;
