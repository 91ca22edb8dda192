// The ledger's answers as the CLI reads them, and the money helpers its commands share. Amounts are
// integer micro-credits on the wire; people type and read credits.
import { UsageError } from './errors';
import { formatCredits, parseCredits } from './format';
import type { Audit, Balance, Entry, View } from './answers';

/** GET /v1/balance: `staked` is free + locked stake; the parts follow. */
export type BalanceView = View<Balance, 'accountId' | 'role' | 'available' | 'held' | 'staked', 'stakeFree' | 'stakeLocked' | 'unbonding' | 'symbol'>;

export type Bucket = Entry['debit']['bucket'];

/** an entry of GET /v1/accounts/{id}/entries: `change` is what it did to this account, per bucket (negative: out) */
export type EntryView = View<Entry, 'id' | 'at' | 'kind' | 'amount' | 'debit' | 'credit' | 'change' | 'balanceAfter', 'cause'>;

export type AuditView = View<Audit, 'ok' | 'differences' | 'totalMinted' | 'totalSupply', 'negative' | 'duplicates' | 'entries' | 'accounts' | 'symbol'>;

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
