// The audit: recompute every balance from the entries alone and compare with the balances the accounts
// carry. Pure; the use case feeds it a scan of both tables.
import { BUCKETS, MINT_SOURCE, type Bucket, type Entry } from './model';

export type Balances = Record<Bucket, number>;
export interface AccountBalances extends Partial<Balances> {
  id: string;
}

export interface Difference {
  account: string;
  bucket: Bucket;
  /** what the entries say */
  expected: number;
  /** what the account item says */
  actual: number;
}

export interface AuditResult {
  ok: boolean;
  differences: Difference[];
  totalMinted: number;
  totalSupply: number;
  entries: number;
  accounts: number;
  /** entry ids seen more than once (a double posting; the table's key makes this impossible) */
  duplicates: string[];
  /** balances below zero (conditions forbid them) */
  negative: Difference[];
}

export function audit(entries: Iterable<Entry>, accounts: Iterable<AccountBalances>): AuditResult {
  const expected = new Map<string, Balances>();
  const zero = (): Balances => Object.fromEntries(BUCKETS.map((b) => [b, 0])) as Balances;
  const seen = new Set<string>();
  const duplicates: string[] = [];
  let totalMinted = 0;
  let count = 0;
  const add = (account: string, bucket: Bucket, v: number) => {
    if (account === MINT_SOURCE) return;
    const b = expected.get(account) ?? zero();
    b[bucket] += v;
    expected.set(account, b);
  };
  for (const e of entries) {
    count++;
    if (seen.has(e.id)) duplicates.push(e.id);
    seen.add(e.id);
    if (e.debit.account === MINT_SOURCE) totalMinted += e.amount;
    add(e.debit.account, e.debit.bucket, -e.amount);
    add(e.credit.account, e.credit.bucket, e.amount);
  }
  const differences: Difference[] = [];
  const negative: Difference[] = [];
  let totalSupply = 0;
  let accountCount = 0;
  const actualIds = new Set<string>();
  for (const a of accounts) {
    accountCount++;
    actualIds.add(a.id);
    const exp = expected.get(a.id) ?? zero();
    for (const bucket of BUCKETS) {
      const actual = a[bucket] ?? 0;
      totalSupply += actual;
      if (actual !== exp[bucket]) differences.push({ account: a.id, bucket, expected: exp[bucket], actual });
      if (actual < 0) negative.push({ account: a.id, bucket, expected: exp[bucket], actual });
    }
  }
  // entries naming an account that has no item
  for (const [id, exp] of expected) {
    if (actualIds.has(id)) continue;
    for (const bucket of BUCKETS) if (exp[bucket] !== 0) differences.push({ account: id, bucket, expected: exp[bucket], actual: 0 });
  }
  return {
    ok: differences.length === 0 && duplicates.length === 0 && negative.length === 0 && totalSupply === totalMinted,
    differences,
    totalMinted,
    totalSupply,
    entries: count,
    accounts: accountCount,
    duplicates,
    negative,
  };
}
