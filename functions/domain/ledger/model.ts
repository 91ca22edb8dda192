// The ledger's vocabulary. Pure types and constants: no I/O.
//
// Every account has balances in buckets; every movement between two buckets is one immutable entry
// (debit side: where the credits leave; credit side: where they arrive). Nothing but a mint creates
// credits: a mint's debit side is the `mint` source, which has no balance of its own, so the total
// supply (the sum of every balance) always equals the total minted.

/** available: spendable; held: escrow of live attempts; staked: free stake; locked: stake bound to nodes; unbonding: unstaked, waiting out the cooldown */
export const BUCKETS = ['available', 'held', 'staked', 'locked', 'unbonding'] as const;
export type Bucket = (typeof BUCKETS)[number];

/** The system's own accounts: protocol fees, the checkers' reward pool and the treasury (slashes). */
export const SYSTEM_ACCOUNTS = { fees: 'sys-fees', rewards: 'sys-rewards', treasury: 'sys-treasury' } as const;
/**
 * Providers whose nodes need no stake: the operator's own burst capacity on EC2 (functions/usecases/
 * burst-deps.ts BURST_ACCOUNT_ID). Stake protects consumers from providers they cannot trust; the
 * operator is the control plane itself.
 */
export const STAKE_EXEMPT_PROVIDERS: readonly string[] = ['burst-provider'];

/** The source of minted credits: it has no account item and no balance. */
export const MINT_SOURCE = 'mint';

export const ENTRY_KINDS = [
  'mint',
  'hold',
  'charge',
  'fee',
  'release',
  'stake',
  'unstake',
  'unbonded',
  'lock',
  'unlock',
  'slash_refund',
  'slash_treasury',
  'reward',
  'penalty',
] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

export interface Side {
  account: string;
  bucket: Bucket;
}

/** What caused a posting: carried by each of its entries, for statements and slashing's evidence window. */
export interface Cause {
  jobId?: string;
  attempt?: number;
  nodeId?: string;
  /** the consumer whose job it was (settlements), so a slash can find who a dishonest node served */
  consumerId?: string;
  /** what the consumer paid for the attempt (settlements): a slash refunds it */
  paid?: number;
  /** when unbonding credits become available again (unstake) */
  releaseAt?: number;
  evidence?: string;
  memo?: string;
}

export interface Entry {
  /** `<posting key>#<leg>`: unique, so a retried posting can never be written twice */
  id: string;
  at: number;
  kind: EntryKind;
  debit: Side;
  credit: Side;
  /** micro-credits, > 0 */
  amount: number;
  cause: Cause;
}

/** One business event: its entries are written in one transaction or not at all. */
export interface Posting {
  /** derived from the cause, e.g. `job/<id>/attempt/<n>/settle`, `epoch/<n>/node/<id>/reward` */
  key: string;
  at: number;
  entries: Entry[];
}

export interface LedgerSettings {
  /** protocol fee on each charge, in basis points (100 = 1%) */
  feeBps: number;
  /** share of each fee that goes on to the checkers' reward pool, basis points of the fee */
  rewardShareBps: number;
  /** stake a provider must have locked per GPU of a node before that node takes work, micro-credits */
  minStakePerGpu: number;
  /** how long unstaked credits wait before they are available again, ms */
  unstakeCooldownMs: number;
  /**
   * the longest a verdict on a node's work may stay pending, ms (default domain/node/removal.ts
   * VERDICT_GRACE_MS, an hour): a deregistered node's stake is held for this plus the cooldown
   */
  verdictGraceMs?: number;
  /** a slash pays harmed consumers back what they paid plus this share (basis points) */
  slashCompensationBps: number;
  /** share of the node's locked stake a proof of dishonesty slashes, basis points */
  slashBps: number;
  /** settlements of the node in this window before the proof count as served dishonestly, ms */
  slashWindowMs: number;
  /** the credits' symbol, for display */
  symbol: string;
}

export const DEFAULT_LEDGER: LedgerSettings = {
  feeBps: 500,
  rewardShareBps: 5000,
  minStakePerGpu: 0,
  unstakeCooldownMs: 7 * 24 * 3600 * 1000,
  slashCompensationBps: 1000,
  slashBps: 1000,
  slashWindowMs: 24 * 3600 * 1000,
  symbol: 'ATH',
};
