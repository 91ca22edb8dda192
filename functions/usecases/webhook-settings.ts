// Webhook settings. The cloud defaults are the strict ones (https, public addresses only); the local stack
// loosens them to reach a receiver on loopback over http and shortens the delays in tests. Read from the
// environment by functions/settings (WEBHOOK_*).
import type { AddressClass } from '../domain/checker/address';
import { DEFAULT_RETRY_DELAYS_SECONDS } from '../domain/webhook/schedule';

export interface WebhookSettings {
  /** address classes deliveries may reach besides public ones: [] in the cloud */
  allowAddresses: AddressClass[];
  /** address classes plain http may reach: [] in the cloud (https only) */
  httpAllowedFor: AddressClass[];
  /** seconds before attempt 2, 3, …: SQS DelaySeconds, each ≤ 900 */
  retryDelaysSeconds: readonly number[];
  /** DNS, connect and answer of one attempt together, ms */
  timeoutMs: number;
  /** a rotated secret is still signed with for this long, ms (0: the old one stops at once) */
  secretGraceMs: number;
  /** a claimed attempt with no result after this long is taken to have died and may be sent again, ms */
  leaseMs: number;
  /** the retry queue (WEBHOOK_RETRY_QUEUE_URL); without one a failed attempt is not retried */
  retryQueueUrl?: string;
}

export const DEFAULT_WEBHOOKS: WebhookSettings = {
  // the cloud's rules (domain/webhook/target.ts CLOUD_RULES): https, public addresses only
  allowAddresses: [],
  httpAllowedFor: [],
  retryDelaysSeconds: DEFAULT_RETRY_DELAYS_SECONDS,
  timeoutMs: 10_000,
  secretGraceMs: 24 * 3600_000,
  // longer than one attempt can take (timeoutMs) plus the write of its result
  leaseMs: 60_000,
};
