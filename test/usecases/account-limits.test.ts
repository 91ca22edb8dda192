// Per-account limits an admin sets (issue 14, item 7) on DynamoDB Local, attacked as a hostile consumer
// would: priority above the cap, a burst of concurrent submits past the queue limit, concurrent placements
// past the GPU limit (gangs counting every rank), holds past the daily spend limit. Each limit is a
// condition of the transaction that would pass it; the ledger audit stays clean.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveGpus, type AccountLimitsPatch } from '../../functions/domain/account-limits';
import { lose } from '../../functions/domain/job/transitions';
import type { Caller, Job } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { setAccountLimits, getAccountLimits } from '../../functions/usecases/account-limits';
import type { Deps } from '../../functions/usecases/deps';
import { applyTransition } from '../../functions/usecases/effects';
import { cancelJob, submitJob } from '../../functions/usecases/jobs';
import { auditLedger } from '../../functions/usecases/ledger';
import { sweep, tryPlace } from '../../functions/usecases/placement';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
const admin: Caller = { accountId: 'limits-admin', role: 'admin', keyId: 'k' };
const spec = (o: Record<string, unknown> = {}) => SubmitJobSchema.parse({ command: ['true'], maxDurationSeconds: 3600, ...o });
const limit = (id: string, patch: AccountLimitsPatch) => setAccountLimits(pool.stack.deps, admin, id, patch);
const settled = <T>(ps: Promise<T>[]) => Promise.allSettled(ps);
// a refusal's domain error code ('forbidden': a 403 to an HTTP caller)
const statusOf = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'ok');

async function jobsOf(d: Deps, accountId: string): Promise<Job[]> {
  const page = await d.jobs.listByAccount(accountId, 100);
  return (await Promise.all(page.items.map((j) => d.jobs.get(j.id)))) as Job[];
}
/** ends a live job (its node lost it, no attempts left): its GPUs and escrow come back */
const endLive = (d: Deps, j: Job) => applyTransition(d, j, (x) => lose({ ...x, maxAttempts: 1 }, x.liveAttemptId!, 'NODE_LOST', d.now()));

/** the account's counters are exactly what its jobs hold: QUEUED jobs, live attempts' GPUs */
async function countersMatch(d: Deps, accountId: string) {
  const jobs = await jobsOf(d, accountId);
  const usage = (await getAccountLimits(d, admin, accountId)).usage;
  expect(usage.queuedJobs).toBe(jobs.filter((j) => j.status === 'QUEUED').length);
  expect(usage.gpusInUse).toBe(jobs.reduce((s, j) => s + liveGpus(j), 0));
}

async function auditClean(d: Deps) {
  const a = await auditLedger(d);
  expect(a.differences).toEqual([]);
  expect(a.ok).toBe(true);
}

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
}, 60_000);
afterAll(async () => pool?.stop());

describe('account limits (DynamoDB Local)', () => {
  it('refuses a priority above the account cap with 403 and creates nothing', async () => {
    const d = pool.stack.deps;
    const c = await fundedAccount(d, 'lim-prio');
    await limit(c.accountId, { maxPriority: 10 });
    const r = await settled([submitJob(d, c, spec({ priority: 50, resources: { gpus: 1, gpuModels: ['NONE'] } }))]);
    expect(statusOf(r[0])).toBe('forbidden');
    expect(r[0].status === 'rejected' && String((r[0].reason as Error).message)).toMatch(/priority 50 is above .* 10/);
    expect(await jobsOf(d, c.accountId)).toHaveLength(0);
    // at the cap: accepted
    expect((await submitJob(d, c, spec({ priority: 10, resources: { gpus: 1, gpuModels: ['NONE'] } }))).status).toBe('QUEUED');
    // the default lets every priority through
    const other = await fundedAccount(d, 'lim-prio-default');
    expect((await submitJob(d, other, spec({ priority: 100, resources: { gpus: 1, gpuModels: ['NONE'] } }))).status).toBe('QUEUED');
  }, 30_000);

  it('20 concurrent submits against a queue limit of 5: exactly 5 jobs exist', async () => {
    const d = pool.stack.deps;
    const c = await fundedAccount(d, 'lim-queue');
    await limit(c.accountId, { maxQueuedJobs: 5 });
    const rs = await settled(Array.from({ length: 20 }, () => submitJob(d, c, spec({ resources: { gpus: 1, gpuModels: ['NONE'] } }))));
    expect(rs.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(rs.filter((r) => statusOf(r) === 'forbidden')).toHaveLength(15);
    const jobs = await jobsOf(d, c.accountId);
    expect(jobs).toHaveLength(5);
    expect((await getAccountLimits(d, admin, c.accountId)).usage.queuedJobs).toBe(5);
    // a replicated job counts every replica, all or none: 3 replicas do not fit in 0 places
    expect(statusOf((await settled([submitJob(d, c, spec({ verification: { replicas: 3 }, resources: { gpus: 1, gpuModels: ['NONE'] } }))]))[0])).toBe('forbidden');
    // a cancelled job frees its place, once
    await cancelJob(d, c, jobs[0].id);
    await cancelJob(d, c, jobs[0].id);
    expect((await getAccountLimits(d, admin, c.accountId)).usage.queuedJobs).toBe(4);
    const again = await settled(Array.from({ length: 4 }, () => submitJob(d, c, spec({ resources: { gpus: 1, gpuModels: ['NONE'] } }))));
    expect(again.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await jobsOf(d, c.accountId)).filter((j) => j.status === 'QUEUED')).toHaveLength(5);
    await countersMatch(d, c.accountId);
  }, 60_000);

  it('concurrent placements never give an account more GPUs than its limit; its waiting jobs do not hold up others', async () => {
    const d = pool.stack.deps;
    const c = await fundedAccount(d, 'lim-gpus');
    const other = await fundedAccount(d, 'lim-gpus-other');
    await limit(c.accountId, { maxGpus: 4 });
    await Promise.all(['a', 'b', 'c'].map((n) => insertNode(d, `lim-gpus-${n}`, { gpus: 8, model: 'LIMG', provider: 'lim-provider' })));
    // 12 one-GPU jobs placed inline at submit, while 4 sweeps and re-tries race them
    const submitted = await Promise.all([
      ...Array.from({ length: 12 }, () => submitJob(d, c, spec({ resources: { gpus: 1, gpuModels: ['LIMG'] } }))),
      ...Array.from({ length: 4 }, () => sweep(d).then(() => undefined)),
    ]);
    const ids = submitted.filter((j): j is Job => Boolean(j)).map((j) => j.id);
    await Promise.all(ids.flatMap((id) => [0, 1].map(async () => tryPlace(d, (await d.jobs.get(id))!))));
    let jobs = await jobsOf(d, c.accountId);
    const live = jobs.filter((j) => j.status === 'ASSIGNED');
    expect(live).toHaveLength(4);
    expect((await getAccountLimits(d, admin, c.accountId)).usage.gpusInUse).toBe(4);
    // the others wait, saying why, and another account's job is placed by the same sweep
    const otherJob = await submitJob(d, other, spec({ resources: { gpus: 1, gpuModels: ['LIMG'] } }));
    await sweep(d);
    jobs = await jobsOf(d, c.accountId);
    for (const j of jobs.filter((x) => x.status === 'QUEUED')) expect(j.pendingReason).toMatch(/account limit: 4 of the account's 4 GPUs are in use/);
    expect((await d.jobs.get(otherJob.id))!.status).toBe('ASSIGNED');
    // the end of an attempt gives its GPUs back: the next sweep places one more, not more
    await endLive(d, live[0]);
    expect((await getAccountLimits(d, admin, c.accountId)).usage.gpusInUse).toBe(3);
    await sweep(d);
    expect((await jobsOf(d, c.accountId)).filter((j) => j.status === 'ASSIGNED')).toHaveLength(4);
    expect((await getAccountLimits(d, admin, c.accountId)).usage.gpusInUse).toBe(4);
    // a job its node lost goes back to the queue with attempts left: GPUs back, queued again, never refused
    const back = (await jobsOf(d, c.accountId)).find((j) => j.status === 'ASSIGNED')!;
    expect((await applyTransition(d, back, (x) => lose(x, x.liveAttemptId!, 'NODE_LOST', d.now()))).status).toBe('QUEUED');
    expect((await getAccountLimits(d, admin, c.accountId)).usage.gpusInUse).toBe(3);
    await countersMatch(d, c.accountId);
    await auditClean(d);
  }, 60_000);

  it('a gang counts all its GPUs; a job that can never fit is refused at submit', async () => {
    const d = pool.stack.deps;
    const c = await fundedAccount(d, 'lim-gang');
    await limit(c.accountId, { maxGpus: 5 });
    await Promise.all(['a', 'b', 'c'].map((n) => insertNode(d, `lim-gang-${n}`, { gpus: 4, model: 'LIMGANG', provider: `lim-gang-p${n}`, probeUrl: `http://10.0.1.${n.charCodeAt(0)}:7000` })));
    expect(statusOf((await settled([submitJob(d, c, spec({ resources: { gpus: 2, nodes: 3, gpuModels: ['LIMGANG'] } }))]))[0])).toBe('forbidden');
    const gang = await submitJob(d, c, spec({ resources: { gpus: 2, nodes: 2, gpuModels: ['LIMGANG'] } }));
    expect(gang.status, gang.pendingReason).toBe('ASSIGNED');
    const [one, two] = await Promise.all([0, 1].map(() => submitJob(d, c, spec({ resources: { gpus: 1, gpuModels: ['LIMGANG'] } }))));
    expect([one.status, two.status].sort()).toEqual(['ASSIGNED', 'QUEUED']);
    expect((await getAccountLimits(d, admin, c.accountId)).usage.gpusInUse).toBe(5);
    await endLive(d, (await d.jobs.get(gang.id))!);
    expect((await getAccountLimits(d, admin, c.accountId)).usage.gpusInUse).toBe(1);
    await sweep(d);
    expect((await getAccountLimits(d, admin, c.accountId)).usage.gpusInUse).toBe(2);
    await countersMatch(d, c.accountId);
    await auditClean(d);
  }, 60_000);

  it('escrow held per UTC day stops at the spend limit, also under concurrent placements, and starts again the next day', async () => {
    const base = pool.stack.deps;
    let clock = Date.UTC(2030, 0, 1, 23, 0);
    const d: Deps = { ...base, now: () => clock };
    const c = await fundedAccount(d, 'lim-spend');
    // price 1 credit per GPU-hour, 1 GPU, an hour: each placement holds 1 credit
    await insertNode(d, 'lim-spend-node', { gpus: 8, model: 'LIMS', price: 1_000_000, provider: 'lim-spend-p' });
    await limit(c.accountId, { maxSpendPerDay: 2_500_000 });
    const jobs = await Promise.all(Array.from({ length: 6 }, () => submitJob(d, c, spec({ resources: { gpus: 1, gpuModels: ['LIMS'] } }))));
    await Promise.all([sweep(d), sweep(d)]);
    let mine = await jobsOf(d, c.accountId);
    expect(mine.filter((j) => j.status === 'ASSIGNED')).toHaveLength(2);
    for (const j of mine.filter((x) => x.status === 'QUEUED')) expect(j.pendingReason).toMatch(/account limit: escrow holds placed today \(UTC\) are 2 of the account's 2.5/);
    // ending a job gives escrow back but does not undo the day's spend
    for (const j of mine.filter((x) => x.status === 'ASSIGNED')) await endLive(d, j);
    await sweep(d);
    expect((await jobsOf(d, c.accountId)).filter((j) => j.status === 'ASSIGNED')).toHaveLength(0);
    // the next UTC day
    clock += 2 * 3600_000;
    await sweep(d);
    mine = await jobsOf(d, c.accountId);
    expect(mine.filter((j) => j.status === 'ASSIGNED')).toHaveLength(2);
    const view = await getAccountLimits(d, admin, c.accountId);
    expect(view.usage).toMatchObject({ spentToday: 2_000_000, day: '2030-01-02' });
    expect(jobs).toHaveLength(6);
    await countersMatch(d, c.accountId);
    await auditClean(d);
  }, 60_000);

  it('an admin lowering the queue limit while submits race: none is admitted under the old limit after the change', async () => {
    const d = pool.stack.deps;
    const c = await fundedAccount(d, 'lim-change');
    await limit(c.accountId, { maxQueuedJobs: 100 });
    const submits = Array.from({ length: 12 }, () => submitJob(d, c, spec({ resources: { gpus: 1, gpuModels: ['NONE'] } })));
    const lowered = limit(c.accountId, { maxQueuedJobs: 2 });
    await settled(submits);
    await lowered;
    // whatever got in before the change stays (admitted work is left alone); after it, nothing more
    const before = (await jobsOf(d, c.accountId)).length;
    const late = await settled(Array.from({ length: 5 }, () => submitJob(d, c, spec({ resources: { gpus: 1, gpuModels: ['NONE'] } }))));
    expect(late.filter((r) => r.status === 'fulfilled')).toHaveLength(Math.max(0, 2 - before));
    await countersMatch(d, c.accountId);
  }, 30_000);

  it('an admin sets and resets limits; others may not', async () => {
    const d = pool.stack.deps;
    const c = await fundedAccount(d, 'lim-admin');
    const before = await getAccountLimits(d, c, c.accountId);
    expect(before.limits).toEqual({ maxPriority: 100, maxQueuedJobs: 1000, maxGpus: 64, maxSpendPerDay: null });
    expect(before.set).toEqual({ maxPriority: false, maxQueuedJobs: false, maxGpus: false, maxSpendPerDay: false });
    await expect(setAccountLimits(d, c, c.accountId, { maxPriority: 100 })).rejects.toMatchObject({ code: 'forbidden' });
    const set = await limit(c.accountId, { maxGpus: 2, maxSpendPerDay: 5_000_000 });
    expect(set.limits).toMatchObject({ maxGpus: 2, maxSpendPerDay: 5_000_000, maxPriority: 100 });
    const reset = await limit(c.accountId, { maxGpus: null });
    expect(reset.limits).toMatchObject({ maxGpus: 64, maxSpendPerDay: 5_000_000 });
    await expect(limit('no-such-account', { maxGpus: 1 })).rejects.toMatchObject({ code: 'not_found' });
  }, 30_000);
});
