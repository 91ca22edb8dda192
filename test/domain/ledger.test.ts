// The ledger's pure rules: amounts, postings and the audit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { audit } from '../../functions/domain/ledger/audit';
import { MINT_SOURCE, SYSTEM_ACCOUNTS } from '../../functions/domain/ledger/model';
import { balanceDeltas, holdAmount, meteredCharge, mintPosting, moveWithin, rewardPosting, settlementPosting, slashPosting } from '../../functions/domain/ledger/postings';
import { cancel, finish, lose, place, start } from '../../functions/domain/job/transitions';
import { meteredCost } from '../../functions/domain/job/view';
import type { Job } from '../../functions/domain/model';

const L = { feeBps: 500, rewardShareBps: 5000 };

describe('amounts', () => {
  it('holds price × GPUs × max duration, rounded up', () => {
    expect(holdAmount(3_600_000, 1, 3600)).toBe(3_600_000);
    expect(holdAmount(1, 1, 1)).toBe(1); // 1/3600 micro-credit rounds up to 1
    expect(holdAmount(2_900_000, 8, 86_400)).toBe(2_900_000 * 8 * 24);
  });
  it('meters down to the millisecond, rounded down, exactly for large products', () => {
    expect(meteredCharge(3_600_000, 1, 1)).toBe(1);
    expect(meteredCharge(3_600_000, 2, 1500)).toBe(3000);
    expect(meteredCharge(1_000_000, 1, 3599)).toBe(999);
    // 1e9 micro/h × 64 GPUs × 30 days stays exact
    expect(meteredCharge(1_000_000_000, 64, 30 * 86_400_000)).toBe(1_000_000_000 * 64 * 720);
  });
});

describe('settlement', () => {
  const s = { jobId: 'j', attempt: 0, consumerId: 'c', providerId: 'p', nodeId: 'n', hold: 1_000_000, at: 1 };
  it('pays the provider the charge minus the fee, splits the fee, returns the rest', () => {
    const p = settlementPosting({ ...s, charge: 400_000 }, L);
    const d = balanceDeltas([p]);
    expect(d.get('c')).toEqual({ held: -1_000_000, available: 600_000 });
    expect(d.get('p')).toEqual({ available: 380_000 });
    expect(d.get(SYSTEM_ACCOUNTS.fees)).toEqual({ available: 10_000 });
    expect(d.get(SYSTEM_ACCOUNTS.rewards)).toEqual({ available: 10_000 });
    expect(p.key).toBe('job/j/attempt/0/settle');
    expect(new Set(p.entries.map((e) => e.id)).size).toBe(p.entries.length);
  });
  it('never charges more than the hold, and a zero charge only releases', () => {
    expect(balanceDeltas([settlementPosting({ ...s, charge: 5_000_000 }, L)]).get('c')).toEqual({ held: -1_000_000 });
    const zero = settlementPosting({ ...s, charge: 0 }, L);
    expect(zero.entries.map((e) => e.kind)).toEqual(['release']);
  });
  it('conserves the hold for any charge and fee', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e12 }), fc.integer({ min: 0, max: 2e12 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (hold, charge, feeBps, rewardShareBps) => {
        const p = settlementPosting({ ...s, hold, charge }, { feeBps, rewardShareBps });
        const total = [...balanceDeltas([p]).values()].flatMap((d) => Object.values(d)).reduce((a, b) => a + b!, 0);
        expect(total).toBe(0);
        for (const e of p.entries) expect(e.amount).toBeGreaterThan(0);
      }),
    );
  });
});

describe('slashing', () => {
  it('refunds harmed consumers first (paid plus compensation), the rest to the treasury', () => {
    const p = slashPosting({ key: 'k', providerId: 'p', from: 'locked', nodeId: 'n', amount: 1000, harmed: [{ consumerId: 'a', paid: 500 }, { consumerId: 'b', paid: 300 }], compensationBps: 1000, evidence: 'e', at: 1 });
    const d = balanceDeltas([p]);
    expect(d.get('a')).toEqual({ available: 550 });
    expect(d.get('b')).toEqual({ available: 330 });
    expect(d.get(SYSTEM_ACCOUNTS.treasury)).toEqual({ available: 120 });
    expect(d.get('p')).toEqual({ locked: -1000 });
    expect(p.entries.every((e) => e.cause.evidence === 'e')).toBe(true);
  });
  it('a small slash goes to the first harmed consumers only', () => {
    const p = slashPosting({ key: 'k', providerId: 'p', from: 'staked', nodeId: 'n', amount: 100, harmed: [{ consumerId: 'a', paid: 500 }, { consumerId: 'b', paid: 300 }], compensationBps: 0, evidence: 'e', at: 1 });
    expect(p.entries.map((e) => [e.kind, e.credit.account, e.amount])).toEqual([['slash_refund', 'a', 100]]);
  });
});

describe('audit', () => {
  it('agrees with balances built from the same postings, and spots any difference', () => {
    const postings = [mintPosting('m1', 'c', 5000, 1), mintPosting('m2', 'p', 3000, 1), moveWithin('s', 'stake', 'p', 2000, 2), rewardPosting('r', 'p', 'n', 0, 100, 3)];
    const balances = [...balanceDeltas(postings)].map(([id, d]) => ({ id, ...d }));
    const entries = postings.flatMap((p) => p.entries);
    const ok = audit(entries, balances);
    expect(ok).toMatchObject({ ok: true, totalMinted: 8000, totalSupply: 8000, differences: [] });
    const off = audit(entries, balances.map((b) => (b.id === 'c' ? { ...b, available: 4999 } : b)));
    expect(off.ok).toBe(false);
    expect(off.differences).toEqual([{ account: 'c', bucket: 'available', expected: 5000, actual: 4999 }]);
    expect(audit([...entries, entries[0]], balances).duplicates).toEqual([entries[0].id]);
    expect(entries.some((e) => e.debit.account === MINT_SOURCE)).toBe(true);
  });
});

describe('escrow in the job state machine', () => {
  const job = (): Job => ({
    id: 'j1', accountId: 'c', status: 'QUEUED', attempts: [], createdAt: 0, queuedAt: 0, version: 0, command: ['x'], env: {},
    resources: { gpus: 2, nodes: 1 }, maxDurationSeconds: 3600, maxAttempts: 3, priority: 0, queueTtlSeconds: 3600,
  });
  const node = { id: 'n1', pricePerGpuHour: 3_600_000, providerId: 'p' };

  it('places with a hold and charges metered time from RUNNING on finish', () => {
    const placed = place(job(), node, 'a1', 1000);
    expect(placed.effects).toContainEqual({ kind: 'hold', attempt: 0 });
    expect(placed.job.attempts[0]).toMatchObject({ hold: 2 * 3_600_000, providerId: 'p' });
    const running = start(placed.job, 'a1', 2000).job;
    const done = finish(running, 'a1', { exitCode: 0, outcome: 'exited' }, 12_000);
    expect(done.effects).toContainEqual({ kind: 'settle', attempt: 0 });
    // 10 s × 2 GPUs at 1000 micro-credits per GPU-second
    expect(done.job.attempts[0].charged).toBe(20_000);
    expect(meteredCost(done.job, 99_999)).toMatchObject({ held: 0, charged: 20_000, refunded: 2 * 3_600_000 - 20_000 });
  });
  it('charges nothing for an attempt lost through the node, and what was used on a cancel', () => {
    const running = start(place(job(), node, 'a1', 0).job, 'a1', 0).job;
    expect(lose(running, 'a1', 'NODE_LOST', 50_000).job.attempts[0].charged).toBe(0);
    const asked = cancel(running, 5000).job;
    const ended = finish(asked, 'a1', { exitCode: null, outcome: 'cancelled' }, 5000);
    expect(ended.job.attempts[0].charged).toBe(10_000);
  });
  it('a pinned canary holds nothing', () => {
    expect(place({ ...job(), pinNodeId: 'n1' }, node, 'a1', 0).job.attempts[0].hold).toBe(0);
  });
});
