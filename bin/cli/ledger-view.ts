// The ledger's answers as the CLI reads them, and the money helpers its commands share. Amounts are
// integer micro-credits on the wire; people type and read credits.
import { UsageError } from './errors';
import { formatCredits, parseCredits } from './format';

/** GET /v1/balance: `staked` is free + locked stake; the parts follow. */
export interface BalanceView {
  accountId: string;
  role: string;
  available: number;
  held: number;
  staked: number;
  stakeFree?: number;
  stakeLocked?: number;
  unbonding?: number;
  symbol?: string;
}

export type Bucket = 'available' | 'held' | 'staked' | 'locked' | 'unbonding';

export interface EntryView {
  id: string;
  at: number;
  kind: string;
  amount: number;
  debit: { account: string; bucket: Bucket };
  credit: { account: string; bucket: Bucket };
  cause?: { jobId?: string; attempt?: number; nodeId?: string; memo?: string; evidence?: string; releaseAt?: number };
  /** what the entry did to this account, per bucket (negative: out) */
  change: Partial<Record<Bucket, number>>;
  balanceAfter: Record<Bucket, number>;
}

export interface AuditView {
  ok: boolean;
  differences: { account: string; bucket: string; expected: number; actual: number }[];
  negative?: { account: string; bucket: string; expected: number; actual: number }[];
  duplicates?: string[];
  totalMinted: number;
  totalSupply: number;
  entries?: number;
  accounts?: number;
  symbol?: string;
}

/** The unit people see when the API did not say (it always does since the ledger landed). */
export const DEFAULT_SYMBOL = 'credits';

/**
 * A positive amount of credits from the command line ("12.5" → 12,500,000 micro-credits). At most 6
 * decimals: a micro-credit is the smallest unit, and rounding someone's stake or mint silently is worse
 * than refusing it.
 */
export function creditsArg(text: string, what: string): number {
  const v = parseCredits(text);
  if (v === undefined || v < 1) throw new UsageError(`${what} takes a positive number of credits such as 100 or 12.5 (at most 6 decimals), got "${text}"`);
  return v;
}

/** Credits with 2 decimals, or all 6 when the amount has finer parts, so a typed 0.000001 reads back exactly. */
export const exactCredits = (micro: number) => formatCredits(micro, micro % 10_000 ? 6 : 2);
