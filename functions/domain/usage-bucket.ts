// Which of the tier's usage keys meters an account on AWS. API Gateway throttles per usage key and an
// account and region holds at most 10,000 of them, so accounts share a fixed set: a stable hash of the
// account id picks one. A noisy account then slows only the 1/N of accounts in its bucket, and the
// number of API Gateway keys never grows with the tenants (docs/api.md).
import { createHash } from 'node:crypto';

export function usageBucketOf(accountId: string, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1) throw new Error(`usage buckets must be a positive integer, got ${buckets}`);
  return createHash('sha256').update(accountId).digest().readUInt32BE(0) % buckets;
}

/** The usage key value of a bucket: the stack's base value and the bucket number. */
export const usageKeyValue = (base: string, bucket: number) => `${base}-${bucket}`;
