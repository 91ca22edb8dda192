// The open checker network's pure rules: assignments, quorum, checker scoring (docs/checkers.md).
import { describe, expect, it } from 'vitest';
import { assignedCheckers, assignmentsOf, epochSeed, isAssigned, type RosterChecker } from '../../functions/domain/checker/assignments';
import { median, nodeVerdict, quorumOf, type NodeReport } from '../../functions/domain/checker/quorum';
import {
  addOutcome,
  emptyScore,
  INITIAL_STANDING,
  nextStanding,
  outcomeOf,
  penaltyOf,
  shareRewards,
  shouldSuspend,
  SUSPEND_AFTER_STRIKES,
  type EpochScore,
  type Standing,
} from '../../functions/domain/checker/checker-standing';

const SECRET = 'x'.repeat(48);
const checker = (i: number, ownerId = `own${i}`, operatorId?: string): RosterChecker => ({ licenseId: `lic${i}`, ownerId, ...(operatorId ? { operatorId } : {}), rewardShareBps: 0, publicKey: 'k' });
const roster = Array.from({ length: 8 }, (_, i) => checker(i));
const nodes = Array.from({ length: 40 }, (_, i) => ({ id: `node${i}`, providerId: `prov${i % 5}` }));

describe('epoch assignments', () => {
  it('assigns every node exactly k distinct checkers, the same every time for one epoch', () => {
    const seed = epochSeed(SECRET, 7);
    for (const n of nodes) {
      const a = assignedCheckers(seed, roster, n, 3);
      expect(a).toHaveLength(3);
      expect(new Set(a.map((c) => c.licenseId)).size).toBe(3);
      expect(assignedCheckers(epochSeed(SECRET, 7), roster, n, 3)).toEqual(a);
    }
  });

  it('rotates across epochs and depends on the secret (a provider without it cannot predict them)', () => {
    const sets = (seed: Buffer) => nodes.map((n) => assignedCheckers(seed, roster, n, 3).map((c) => c.licenseId).join(',')).join(';');
    expect(sets(epochSeed(SECRET, 1))).not.toBe(sets(epochSeed(SECRET, 2)));
    expect(sets(epochSeed(SECRET, 1))).not.toBe(sets(epochSeed('y'.repeat(48), 1)));
    // over many epochs every checker sees node0 at some point: rotation, not a fixed pairing
    const seen = new Set<string>();
    for (let e = 0; e < 60; e++) for (const c of assignedCheckers(epochSeed(SECRET, e), roster, nodes[0], 3)) seen.add(c.licenseId);
    expect(seen.size).toBe(roster.length);
  });

  it('attack: a checker is never assigned its own provider account\'s nodes, nor those of an account it operates for', () => {
    // lic0 is held by prov0 itself; lic1 is held by someone else but operated by prov1 (delegation);
    // lic2 is held by prov2 and operated by a node-as-a-service operator
    const r = [checker(0, 'prov0'), checker(1, 'own1', 'prov1'), checker(2, 'prov2', 'nasS'), ...roster.slice(3)];
    for (let e = 0; e < 200; e++) {
      const seed = epochSeed(SECRET, e);
      // k as large as the roster: every eligible checker is assigned, so exclusion is the only reason
      for (const n of nodes) {
        const ids = assignedCheckers(seed, r, n, r.length).map((c) => c.licenseId);
        if (n.providerId === 'prov0') expect(ids).not.toContain('lic0');
        if (n.providerId === 'prov1') expect(ids).not.toContain('lic1');
        if (n.providerId === 'prov2') expect(ids).not.toContain('lic2');
        if (n.providerId === 'prov3') expect(ids).toContain('lic0');
      }
    }
    expect(isAssigned(epochSeed(SECRET, 3), r, { id: 'n', providerId: 'prov0' }, 99, 'lic0')).toBe(false);
  });

  it('spreads the load: each checker gets about k/N of the nodes', () => {
    const seed = epochSeed(SECRET, 11);
    const many = Array.from({ length: 2000 }, (_, i) => ({ id: `n${i}`, providerId: `p${i % 50}` }));
    for (const c of roster) {
      const share = assignmentsOf(seed, roster, many, 3, c.licenseId).length / many.length;
      expect(share).toBeGreaterThan(0.3);
      expect(share).toBeLessThan(0.45);
    }
  });

  it('a roster smaller than k assigns what there is; an empty roster assigns nothing', () => {
    expect(assignedCheckers(epochSeed(SECRET, 1), roster.slice(0, 2), nodes[0], 3)).toHaveLength(2);
    expect(assignedCheckers(epochSeed(SECRET, 1), [], nodes[0], 3)).toEqual([]);
  });
});

const rep = (licenseId: string, ok: boolean, rttMs?: number, late?: boolean): NodeReport => ({ licenseId, ok, ...(rttMs !== undefined ? { rttMs } : {}), ...(late ? { late } : {}) });

describe('quorum', () => {
  it('needs a strict majority of k and never fewer than two reports', () => {
    expect([1, 2, 3, 4, 5, 7].map(quorumOf)).toEqual([2, 2, 2, 3, 3, 4]);
  });

  it('majority decides pass/fail, median decides latency', () => {
    const v = nodeVerdict([rep('a', true, 10), rep('b', true, 30), rep('c', false, 900)], 3, { ok: false });
    expect(v).toMatchObject({ pass: true, decidedBy: 'quorum', passVotes: 2, failVotes: 1, rttMs: 20 });
    expect(nodeVerdict([rep('a', false), rep('b', false), rep('c', true, 5)], 3, { ok: true })).toMatchObject({ pass: false, decidedBy: 'quorum' });
    expect(median([5, 1, 3])).toBe(3);
    expect(median([])).toBeUndefined();
  });

  it('with fewer than a quorum of reports, or a tie, the operator\'s checker decides', () => {
    expect(nodeVerdict([rep('a', false)], 3, { ok: true, rttMs: 4 })).toMatchObject({ pass: true, decidedBy: 'operator', rttMs: 4 });
    expect(nodeVerdict([rep('a', false), rep('b', true)], 3, { ok: true })).toMatchObject({ pass: true, decidedBy: 'operator' });
    expect(nodeVerdict([], 3, { ok: false })).toMatchObject({ pass: false, decidedBy: 'operator' });
    expect(nodeVerdict([rep('a', true)], 3, undefined)).toEqual({ decidedBy: 'none', passVotes: 1, failVotes: 0 });
  });

  it('attack: one checker alone can never fail an honest node, whatever k is', () => {
    for (const k of [1, 2, 3, 5]) {
      expect(nodeVerdict([rep('liar', false)], k, { ok: true }).pass).toBe(true);
      expect(nodeVerdict([rep('liar', false), rep('h1', true)], k, { ok: true }).pass).toBe(true);
    }
    // no operator result either: one report decides nothing
    expect(nodeVerdict([rep('liar', false)], 1, undefined).pass).toBeUndefined();
  });

  it('attack: a colluding minority cannot flip the verdict', () => {
    const honest = [rep('h1', true), rep('h2', true), rep('h3', true)];
    expect(nodeVerdict([...honest, rep('c1', false), rep('c2', false)], 5, { ok: true }).pass).toBe(true);
    // fewer reports than a quorum: the colluder's vote is only a tie, the operator decides
    expect(nodeVerdict([rep('h1', true), rep('c1', false)], 5, { ok: true }).pass).toBe(true);
  });

  it('late reports are not counted', () => {
    expect(nodeVerdict([rep('a', false, 1, true), rep('b', false, 1, true), rep('c', true)], 3, { ok: true })).toMatchObject({ pass: true, decidedBy: 'operator', failVotes: 0 });
  });
});

describe('checker scoring', () => {
  it('sorts each assignment into agree, disagree, late, missing, undecided', () => {
    expect(outcomeOf(rep('a', true), { pass: true })).toBe('agree');
    expect(outcomeOf(rep('a', false), { pass: true })).toBe('disagree');
    expect(outcomeOf(rep('a', true, 1, true), { pass: true })).toBe('late');
    expect(outcomeOf(undefined, { pass: true })).toBe('missing');
    expect(outcomeOf(rep('a', true), {})).toBe('undecided');
  });

  const epoch = (agree: number, disagree: number, extra: Partial<EpochScore> = {}): EpochScore => {
    let s = emptyScore('x');
    for (let i = 0; i < agree; i++) s = addOutcome(s, 'agree');
    for (let i = 0; i < disagree; i++) s = addOutcome(s, 'disagree');
    return { ...s, ...extra };
  };

  it('attack: a checker that reports healthy nodes as failed loses standing and is suspended after repeated disagreement', () => {
    let liar: Standing = INITIAL_STANDING;
    let honest: Standing = INITIAL_STANDING;
    const history: Standing[] = [];
    for (let e = 0; e < SUSPEND_AFTER_STRIKES; e++) {
      liar = nextStanding(liar, epoch(0, 4));
      honest = nextStanding(honest, epoch(4, 0));
      history.push(liar);
    }
    expect(history.map((s) => s.standing)).toEqual([...history.map((s) => s.standing)].sort((a, b) => b - a));
    expect(liar.standing).toBeLessThan(0.5);
    expect(shouldSuspend(liar)).toBe(true);
    expect(honest).toEqual({ standing: 1, strikes: 0 });
    expect(shouldSuspend(honest)).toBe(false);
  });

  it('an honest checker outvoted now and then is not suspended (strikes reset)', () => {
    let s = INITIAL_STANDING;
    for (let e = 0; e < 10; e++) s = nextStanding(s, e % 2 ? epoch(1, 1) : epoch(4, 0));
    expect(shouldSuspend(s)).toBe(false);
    expect(nextStanding(s, epoch(3, 1)).strikes).toBe(0);
  });

  it('missing, late and badly signed reports lower standing without a verdict to compare', () => {
    const s = nextStanding(INITIAL_STANDING, { ...emptyScore('x'), assigned: 4, missing: 2, late: 1, agreed: 1, badSignatures: 1 });
    expect(s.standing).toBeCloseTo(1 + 0.3 * (1 / 5 - 1), 4);
    expect(nextStanding(s, emptyScore('x'))).toEqual(s);
  });

  it('penalises each disagreeing report and refused signature, nothing else', () => {
    expect(penaltyOf({ disagreed: 3, badSignatures: 1 }, 10_000)).toBe(40_000);
    const s: EpochScore = { ...emptyScore('x'), missing: 5, late: 2 };
    expect(penaltyOf(s, 10_000)).toBe(0);
  });

  it('rewards follow agreeing on-time reports; the remainder stays in the pool', () => {
    const r = shareRewards(1000, [
      { licenseId: 'a', agreed: 3 },
      { licenseId: 'b', agreed: 3 },
      { licenseId: 'liar', agreed: 0 },
      { licenseId: 'c', agreed: 1 },
    ]);
    expect(Object.fromEntries(r)).toEqual({ a: 428, b: 428, c: 142 });
    expect([...r.values()].reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1000);
    expect(shareRewards(0, [{ licenseId: 'a', agreed: 1 }]).size).toBe(0);
    expect(shareRewards(10, [{ licenseId: 'a', agreed: 0 }]).size).toBe(0);
  });
});
