// The pure rules of account limits (domain/account-limits.ts) and the update the store builds from them
// (store/account-usage.ts): what moves, what is conditioned, which condition refused.
import { describe, expect, it } from 'vitest';
import { admissionError, DEFAULT_ACCOUNT_LIMITS, effectiveLimits, patchedLimits, refusedBy, usageDelta, usageOf, type UsageGuard } from '../../functions/domain/account-limits';
import type { Attempt, Job } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { mergeUpdates, usageUpdate } from '../../functions/store/account-usage';

const job = (o: Partial<Job> = {}, resources = { gpus: 2, nodes: 1 }): Job => ({
  ...SubmitJobSchema.parse({ command: ['true'], resources }),
  id: 'j',
  accountId: 'a',
  status: 'QUEUED',
  attempts: [],
  createdAt: 0,
  queuedAt: 0,
  version: 0,
  limitsCounted: true,
  ...o,
} as Job);
const attempt = (status: Attempt['status'], n = 0): Attempt => ({ id: `t${n}`, n, nodeId: 'n', status, assignedAt: 0, pricePerGpuHour: 1 });
const guard: UsageGuard = { limits: { ...DEFAULT_ACCOUNT_LIMITS, maxGpus: 4, maxSpendPerDay: 10 }, version: 2, spendDay: '2030-01-01', today: '2030-01-01' };

describe('account limits: rules', () => {
  it('defaults fill what an admin did not set; null resets', () => {
    expect(effectiveLimits({ limits: { maxGpus: 2 } }, DEFAULT_ACCOUNT_LIMITS)).toEqual({ ...DEFAULT_ACCOUNT_LIMITS, maxGpus: 2 });
    expect(patchedLimits({ maxGpus: 2, maxPriority: 5 }, { maxGpus: null, maxQueuedJobs: 3 })).toEqual({ maxPriority: 5, maxQueuedJobs: 3 });
    expect(usageOf({ spendDay: '2029-12-31', spentToday: 9 }, '2030-01-01').spentToday).toBe(0);
  });

  it('admission refuses a priority above the cap and a job that could never fit', () => {
    const l = { ...DEFAULT_ACCOUNT_LIMITS, maxPriority: 5, maxGpus: 4 };
    expect(admissionError(job({ priority: 6 }), l)?.code).toBe('forbidden');
    expect(admissionError(job({ priority: 5 }), l)).toBeUndefined();
    expect(admissionError(job({}, { gpus: 2, nodes: 3 }), l)?.message).toMatch(/needs 6 GPUs/);
  });

  it('usage moves with the job: queue in and out, live GPUs of every rank, holds; uncounted jobs move nothing', () => {
    const q = job();
    const placed = job({ status: 'ASSIGNED', attempts: [attempt('ASSIGNED')] });
    expect(usageDelta(undefined, q, 0)).toEqual({ queued: 1, gpus: 0, spend: 0 });
    expect(usageDelta(q, placed, 7)).toEqual({ queued: -1, gpus: 2, spend: 7 });
    expect(usageDelta(placed, job({ status: 'QUEUED', attempts: [attempt('LOST')] }), 0)).toEqual({ queued: 1, gpus: -2, spend: 0 });
    const gang = job({ status: 'RUNNING', attempts: [attempt('RUNNING', 0), attempt('RUNNING', 1), attempt('ASSIGNED', 2)] }, { gpus: 2, nodes: 3 });
    expect(usageDelta(job({}, { gpus: 2, nodes: 3 }), gang, 0).gpus).toBe(6);
    const { limitsCounted: _l, ...canary } = placed as Job & { limitsCounted?: true };
    expect(usageDelta(q, canary as Job, 7)).toEqual({ queued: 0, gpus: 0, spend: 0 });
  });

  it('tells which condition refused from the item as it was', () => {
    const d = { queued: -1, gpus: 2, spend: 3 };
    expect(refusedBy({ limitsVersion: 3 }, d, guard, {})).toBe('stale');
    expect(refusedBy({ limitsVersion: 2, spendDay: '2029-12-31' }, d, guard, {})).toBe('stale');
    expect(refusedBy({ limitsVersion: 2, spendDay: '2030-01-01', available: 2 }, d, guard, { available: 3 })).toBe('funds');
    expect(refusedBy({ limitsVersion: 2, spendDay: '2030-01-01', available: 9, gpusInUse: 3 }, d, guard, { available: 3 })).toBe('gpus');
    expect(refusedBy({ limitsVersion: 2, spendDay: '2030-01-01', available: 9, gpusInUse: 2, spentToday: 8 }, d, guard, { available: 3 })).toBe('spend');
    expect(refusedBy({ queuedJobs: 1000 }, { queued: 1, gpus: 0, spend: 0 }, { ...guard, version: 0, limits: DEFAULT_ACCOUNT_LIMITS }, {})).toBe('queue');
  });
});

describe('account limits: the store update', () => {
  it('conditions increases on limit − delta and the limits version, never decreases', () => {
    const u = usageUpdate('accounts', 'a', { queued: -1, gpus: 2, spend: 3 }, guard, false)!;
    expect(u.UpdateExpression).toBe('ADD #uq :uq, #ug :ug, #us :us');
    expect(u.ConditionExpression).toBe('(attribute_not_exists(#ug) OR #ug <= :ugmax) AND #ud = :ud AND #us <= :usmax AND #uv = :uv');
    expect(u.ExpressionAttributeValues).toMatchObject({ ':ugmax': { N: '2' }, ':usmax': { N: '7' }, ':uv': { N: '2' } });
    const newDay = usageUpdate('accounts', 'a', { queued: 0, gpus: 1, spend: 3 }, { ...guard, spendDay: '2029-12-31' }, false)!;
    expect(newDay.UpdateExpression).toBe('ADD #ug :ug SET #ud = :ud, #us = :us');
    const release = usageUpdate('accounts', 'a', { queued: 1, gpus: -2, spend: 0 }, undefined, false)!;
    expect(release.ConditionExpression).toBeUndefined();
    expect(() => usageUpdate('accounts', 'a', { queued: 0, gpus: 1, spend: 0 }, undefined, false)).toThrow(/UsageGuard/);
  });

  it('merges into the ledger update of the same item (one operation per item)', () => {
    const ledger = {
      TableName: 'accounts',
      Key: { id: { S: 'a' } },
      UpdateExpression: 'ADD #b0 :d0, #b1 :d1',
      ConditionExpression: '#b0 >= :n0',
      ExpressionAttributeNames: { '#b0': 'available', '#b1': 'held' },
      ExpressionAttributeValues: { ':d0': { N: '-3' }, ':d1': { N: '3' }, ':n0': { N: '3' } },
    };
    const m = mergeUpdates(ledger, usageUpdate('accounts', 'a', { queued: -1, gpus: 1, spend: 3 }, { ...guard, spendDay: undefined }, false)!);
    expect(m.UpdateExpression).toBe('ADD #b0 :d0, #b1 :d1, #uq :uq, #ug :ug SET #ud = :ud, #us = :us');
    expect(m.ConditionExpression).toMatch(/^\(#b0 >= :n0\) AND \(.*#ug <= :ugmax.*\)$/);
    expect(m.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });
});
