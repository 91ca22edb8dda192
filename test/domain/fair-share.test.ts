import { describe, expect, it } from 'vitest';
import { fairOrder } from '../../functions/domain/job/fair-share';

const job = (id: string, accountId: string, createdAt: number, priority = 0) => ({ id, accountId, createdAt, priority });

describe('fair order of the queue', () => {
  it('takes accounts in turns within a priority, the longest-waiting account first', () => {
    const a = Array.from({ length: 5 }, (_, i) => job(`a${i}`, 'A', i));
    const order = fairOrder([...a, job('b0', 'B', 100), job('c0', 'C', 50), job('c1', 'C', 51)]);
    expect(order.map((j) => j.id)).toEqual(['a0', 'c0', 'b0', 'a1', 'c1', 'a2', 'a3', 'a4']);
  });

  it('puts higher priority first, whatever the account', () => {
    const order = fairOrder([job('a0', 'A', 1), job('a1', 'A', 2, 5), job('b0', 'B', 3), job('b1', 'B', 4, 5)]);
    expect(order.map((j) => j.id)).toEqual(['a1', 'b1', 'a0', 'b0']);
  });

  it('reads one job once even when both the global and the per-account read return it', () => {
    expect(fairOrder([job('a0', 'A', 1), job('a0', 'A', 1), job('b0', 'B', 2)]).map((j) => j.id)).toEqual(['a0', 'b0']);
  });

  it('puts a lone job of another account second, however long the backlog ahead of it', () => {
    const backlog = Array.from({ length: 10_000 }, (_, i) => job(`a${i}`, 'A', i));
    expect(fairOrder([...backlog, job('b', 'B', 20_000)]).findIndex((j) => j.id === 'b')).toBe(1);
  });
});

describe('fair selection of the jobs one sweep looks at', () => {
  it("looks at another account's job although one account's higher-priority backlog alone would fill the sweep", async () => {
    const { fairSelect } = await import('../../functions/domain/job/fair-share');
    const backlog = Array.from({ length: 250 }, (_, i) => job(`a${i}`, 'A', i, 100));
    const picked = fairSelect([...backlog, job('b', 'B', 1_000)], 200);
    expect(picked).toHaveLength(200);
    expect(picked.map((j) => j.id)).toContain('b');
    // among the jobs looked at, priority still decides the order of the claims
    expect(picked.at(-1)!.id).toBe('b');
    expect(picked.slice(0, 3).map((j) => j.id)).toEqual(['a0', 'a1', 'a2']);
  });

  it('takes each account its own jobs in queue order (priority, then age) and gives every account a turn', async () => {
    const { fairSelect } = await import('../../functions/domain/job/fair-share');
    const jobs = [job('a0', 'A', 1), job('a1', 'A', 2, 9), job('a2', 'A', 3), job('b0', 'B', 4), job('c0', 'C', 5)];
    expect(fairSelect(jobs, 3).map((j) => j.id).sort()).toEqual(['a1', 'b0', 'c0']);
  });
});
