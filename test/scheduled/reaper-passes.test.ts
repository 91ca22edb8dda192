// The scheduled reaper makes a pass every 5 s within its one-minute invocation, and never starts one it
// has no Lambda time left for.
import { describe, expect, it } from 'vitest';
import { reapWithinSchedule, type PassPlan } from '../../functions/scheduled/reaper';

const EMPTY = { nodesOffline: 0, attemptsLost: 0, removalsFinished: 0, jobsEnded: 0 };

function fakeClock(timeoutMs: number, passCostMs: (i: number) => number) {
  let now = 1_000_000;
  const start = now;
  const starts: number[] = [];
  return {
    starts,
    clock: { now: () => now, sleep: async (ms: number) => void (now += Math.max(0, ms)), remainingMs: () => start + timeoutMs - now },
    pass: async () => {
      starts.push(now - start);
      now += passCostMs(starts.length - 1);
      return { ...EMPTY, nodesOffline: 1 };
    },
  };
}

const PLAN: PassPlan = { passMs: 5_000, windowMs: 60_000, minBudgetMs: 4_000 };

describe('reapWithinSchedule', () => {
  it('passes every 5 s for the minute (12 passes in a 60 s Lambda), totals summed', async () => {
    const f = fakeClock(60_000, () => 200);
    const r = await reapWithinSchedule(f.pass, PLAN, f.clock);
    expect(f.starts).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55].map((s) => s * 1000));
    expect(r).toMatchObject({ passes: 12, nodesOffline: 12 });
  });

  it('skips the slots a slow pass overran and starts none without its budget', async () => {
    const f = fakeClock(60_000, (i) => (i === 1 ? 12_000 : 500));
    await reapWithinSchedule(f.pass, PLAN, f.clock);
    // the pass at 5 s ran until 17 s: the next one starts at 20 s
    expect(f.starts).toEqual([0, 5, 20, 25, 30, 35, 40, 45, 50, 55].map((s) => s * 1000));
    const g = fakeClock(57_000, () => 500);
    await reapWithinSchedule(g.pass, PLAN, g.clock);
    expect(g.starts.at(-1)).toBe(50_000); // at 55 s only 2 s would be left
  });

  it('makes one pass when there is no Lambda context (no time left to plan with)', async () => {
    const f = fakeClock(0, () => 10);
    expect(await reapWithinSchedule(f.pass, PLAN, f.clock)).toMatchObject({ passes: 1 });
  });
});
