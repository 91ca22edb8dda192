// Every posting the ledger knows, as pure builders: the use cases decide when, these decide what.
// Amounts are integer micro-credits; products of price, GPUs and time go through BigInt so a long job
// on an expensive node cannot lose precision.
import type { Bucket, Cause, EntryKind, LedgerSettings, Posting, Side } from './model';
import { MINT_SOURCE, SYSTEM_ACCOUNTS } from './model';

interface Leg {
  kind: EntryKind;
  from: Side;
  to: Side;
  amount: number;
}

/** Builds a posting; legs of zero are left out (an entry always moves something). */
export function posting(key: string, at: number, cause: Cause, legs: Leg[]): Posting {
  const entries = legs
    .filter((l) => l.amount > 0)
    .map((l, i) => ({ id: `${key}#${i}`, at, kind: l.kind, debit: l.from, credit: l.to, amount: l.amount, cause }));
  for (const e of entries) if (!Number.isSafeInteger(e.amount)) throw new Error(`ledger amount ${e.amount} is not a safe integer`);
  return { key, at, entries };
}

const side = (account: string, bucket: Bucket): Side => ({ account, bucket });

/** What placing an attempt holds: the node's price for every GPU over the job's whole allowed duration, rounded up. */
export function holdAmount(pricePerGpuHour: number, gpus: number, maxDurationSeconds: number): number {
  const n = BigInt(pricePerGpuHour) * BigInt(gpus) * BigInt(maxDurationSeconds);
  return Number((n + 3599n) / 3600n);
}

/** Metered GPU time at the node's price, rounded down so the consumer is never over-charged. */
export function meteredCharge(pricePerGpuHour: number, gpus: number, ms: number): number {
  return Number((BigInt(pricePerGpuHour) * BigInt(gpus) * BigInt(Math.max(0, Math.floor(ms)))) / 3_600_000n);
}

const bps = (amount: number, basisPoints: number) => Number((BigInt(amount) * BigInt(basisPoints)) / 10_000n);

export const holdKey = (jobId: string, n: number) => `job/${jobId}/attempt/${n}/hold`;
export const settleKey = (jobId: string, n: number) => `job/${jobId}/attempt/${n}/settle`;
/** a service replica's billing period `segment` of attempt `n`, settled at its renewal (docs/services.md, Money) */
export const segmentSettleKey = (jobId: string, n: number, segment: number) => `job/${jobId}/attempt/${n}/segment/${segment}/settle`;
/** the hold of billing period `segment` (≥ 1; period 0 is the placement's hold, holdKey) */
export const segmentHoldKey = (jobId: string, n: number, segment: number) => `job/${jobId}/attempt/${n}/segment/${segment}/hold`;

export function holdPosting(p: { jobId: string; attempt: number; consumerId: string; nodeId: string; amount: number; at: number }, key = holdKey(p.jobId, p.attempt)): Posting {
  return posting(key, p.at, { jobId: p.jobId, attempt: p.attempt, nodeId: p.nodeId, consumerId: p.consumerId }, [
    { kind: 'hold', from: side(p.consumerId, 'available'), to: side(p.consumerId, 'held'), amount: p.amount },
  ]);
}

export interface SettlementInput {
  jobId: string;
  attempt: number;
  consumerId: string;
  providerId: string;
  nodeId: string;
  /** what placing the attempt held */
  hold: number;
  /** metered charge (already 0 for attempts lost through the node's fault), capped at the hold here */
  charge: number;
  at: number;
}

/**
 * The end of an attempt: the charge leaves the hold for the provider, minus the protocol fee (part of
 * which feeds the reward pool); the rest of the hold goes back to the consumer.
 */
export function settlementPosting(s: SettlementInput, l: Pick<LedgerSettings, 'feeBps' | 'rewardShareBps'>, key = settleKey(s.jobId, s.attempt)): Posting {
  const charge = Math.min(s.hold, Math.max(0, s.charge));
  const fee = bps(charge, l.feeBps);
  const toRewards = bps(fee, l.rewardShareBps);
  const held = side(s.consumerId, 'held');
  const cause = { jobId: s.jobId, attempt: s.attempt, nodeId: s.nodeId, consumerId: s.consumerId, paid: charge };
  return posting(key, s.at, cause, [
    { kind: 'charge', from: held, to: side(s.providerId, 'available'), amount: charge - fee },
    { kind: 'fee', from: held, to: side(SYSTEM_ACCOUNTS.fees, 'available'), amount: fee - toRewards },
    { kind: 'fee', from: held, to: side(SYSTEM_ACCOUNTS.rewards, 'available'), amount: toRewards },
    { kind: 'release', from: held, to: side(s.consumerId, 'available'), amount: s.hold - charge },
  ]);
}

/**
 * A service replica's renewal: billing period `segment` settles exactly as an attempt's end does (its hold
 * `hold`, its metered `charge`, the fee in force), and period `segment + 1` is held. Keyed per period, so a
 * renewal can never be posted twice, nor settle what the attempt's final settlement (settleKey) settles.
 */
export function renewalPostings(s: SettlementInput & { segment: number; nextHold: number }, l: Pick<LedgerSettings, 'feeBps' | 'rewardShareBps'>): Posting[] {
  return [
    settlementPosting(s, l, segmentSettleKey(s.jobId, s.attempt, s.segment)),
    holdPosting({ jobId: s.jobId, attempt: s.attempt, consumerId: s.consumerId, nodeId: s.nodeId, amount: s.nextHold, at: s.at }, segmentHoldKey(s.jobId, s.attempt, s.segment + 1)),
  ];
}

export function mintPosting(key: string, accountId: string, amount: number, at: number, memo?: string): Posting {
  return posting(key, at, memo ? { memo } : {}, [{ kind: 'mint', from: side(MINT_SOURCE, 'available'), to: side(accountId, 'available'), amount }]);
}

/** Moves between two buckets of one account: stake, unstake, the end of unbonding, node locks. */
export function moveWithin(key: string, kind: 'stake' | 'unstake' | 'unbonded' | 'lock' | 'unlock', accountId: string, amount: number, at: number, cause: Cause = {}): Posting {
  const [from, to]: [Bucket, Bucket] = {
    stake: ['available', 'staked'],
    unstake: ['staked', 'unbonding'],
    unbonded: ['unbonding', 'available'],
    lock: ['staked', 'locked'],
    unlock: ['locked', 'staked'],
  }[kind] as [Bucket, Bucket];
  return posting(key, at, cause, [{ kind, from: side(accountId, from), to: side(accountId, to), amount }]);
}

export interface Harmed {
  consumerId: string;
  /** what the consumer paid for the node's work in the evidence window */
  paid: number;
}

/**
 * A proof of dishonesty takes `amount` from the stake locked for the node: first back to the consumers it
 * served in the evidence window (what they paid plus compensation), the rest to the treasury.
 */
export function slashPosting(p: {
  key: string;
  providerId: string;
  /**
   * `locked` (the node's lock) or, for a node that never needed one, the provider's free `staked`; or
   * several buckets drawn in order, each up to its amount (free stake, then stake still unbonding)
   */
  from: 'locked' | 'staked' | Array<{ bucket: Bucket; amount: number }>;
  nodeId: string;
  amount: number;
  harmed: Harmed[];
  compensationBps: number;
  evidence: string;
  at: number;
}): Posting {
  const sources = typeof p.from === 'string' ? [{ bucket: p.from, amount: p.amount }] : p.from.map((s) => ({ ...s }));
  let left = Math.min(p.amount, sources.reduce((t, s) => t + s.amount, 0));
  const legs: Leg[] = [];
  // pays `amount` to `to`, drawing on the sources in order (one leg per source it touches)
  const pay = (kind: 'slash_refund' | 'slash_treasury', to: Side, amount: number) => {
    for (const s of sources) {
      const take = Math.min(s.amount, amount);
      if (take <= 0) continue;
      s.amount -= take;
      amount -= take;
      legs.push({ kind, from: side(p.providerId, s.bucket), to, amount: take });
    }
  };
  for (const h of p.harmed) {
    const owed = h.paid + bps(h.paid, p.compensationBps);
    const refund = Math.min(left, owed);
    left -= refund;
    pay('slash_refund', side(h.consumerId, 'available'), refund);
  }
  pay('slash_treasury', side(SYSTEM_ACCOUNTS.treasury, 'available'), left);
  return posting(p.key, p.at, { nodeId: p.nodeId, evidence: p.evidence }, legs);
}

export function rewardPosting(key: string, providerId: string, nodeId: string, reward: number, penalty: number, at: number): Posting {
  const pool = side(SYSTEM_ACCOUNTS.rewards, 'available');
  const provider = side(providerId, 'available');
  const net = reward - penalty;
  return posting(key, at, { nodeId }, net >= 0 ? [{ kind: 'reward', from: pool, to: provider, amount: net }] : [{ kind: 'penalty', from: provider, to: pool, amount: -net }]);
}

/**
 * A checker license's reward for one epoch of the checker network, from the reward pool: the owner's part
 * and, for a delegated license, the operator's (docs/checkers.md, Rewards). One posting, both legs.
 */
export function checkerRewardPosting(key: string, split: { ownerId: string; owner: number; operatorId?: string; operator: number }, memo: string, at: number): Posting {
  const pool = side(SYSTEM_ACCOUNTS.rewards, 'available');
  return posting(key, at, { memo }, [
    { kind: 'reward', from: pool, to: side(split.ownerId, 'available'), amount: split.owner },
    ...(split.operatorId ? [{ kind: 'reward' as const, from: pool, to: side(split.operatorId, 'available'), amount: split.operator }] : []),
  ]);
}

/** A checker license's penalty for one epoch when it exceeds its reward: from its owner back to the reward pool. */
export function checkerPenaltyPosting(key: string, ownerId: string, amount: number, memo: string, at: number): Posting {
  return posting(key, at, { memo }, [{ kind: 'penalty', from: side(ownerId, 'available'), to: side(SYSTEM_ACCOUNTS.rewards, 'available'), amount }]);
}

export type Deltas = Map<string, Partial<Record<Bucket, number>>>;

/** Net change of each account's buckets over some postings (the mint source has no balance). */
export function balanceDeltas(postings: readonly Posting[]): Deltas {
  const out: Deltas = new Map();
  const add = (s: Side, v: number) => {
    if (s.account === MINT_SOURCE) return;
    const d = out.get(s.account) ?? {};
    d[s.bucket] = (d[s.bucket] ?? 0) + v;
    out.set(s.account, d);
  };
  for (const p of postings)
    for (const e of p.entries) {
      add(e.debit, -e.amount);
      add(e.credit, e.amount);
    }
  return out;
}
