// Job arrays admitted on DynamoDB Local (issue 20): an array larger than one transaction (100 items) is
// still all or none. A submit that fails between its chunks leaves no job and no queue count behind, and
// concurrent arrays against the account's queue limit never pass it, each admitted whole or refused whole.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../functions/domain/model';
import { makeDocClient } from '../../functions/store/clients';
import { buildDeps, newId, settingsFromEnv, type Deps } from '../../functions/usecases/deps';
import { accountView } from '../../functions/usecases/account-limits';
import { arrayJobId } from '../../functions/domain/job/array-id';
import { submitArray } from '../../functions/usecases/jobs';
import { fundedAccount } from '../helpers/fixtures';
import { startEngines, type Engines } from '../helpers/engines';

let engines: Engines;
let d: Deps;

beforeAll(async () => {
  engines = await startEngines();
  d = buildDeps({ db: makeDocClient(engines.ddb), sqs: engines.sqs, tables: engines.tableNames, settings: settingsFromEnv({}) });
}, 120_000);
afterAll(async () => engines?.stop());

// never placed: no node has that model (and there are no nodes): every job stays queued and counted
const spec = (size: number) => ({ command: ['true'], env: {}, resources: { gpus: 1, nodes: 1, gpuModels: ['NONE'] }, maxDurationSeconds: 60, maxAttempts: 1, priority: 0, queueTtlSeconds: 3600, array: { size } });

describe('job array admission', () => {
  it('a failure between chunks leaves nothing: no member, no queue count', async () => {
    const caller = await fundedAccount(d, `arr-fail-${newId()}`);
    const arrayId = newId();
    // member 150 (in the second chunk) already exists, as another account's job: its put fails
    const squatter = await fundedAccount(d, `arr-squat-${newId()}`);
    const blocker: Job = { ...spec(1), id: arrayJobId(arrayId, 150), accountId: squatter.accountId, status: 'QUEUED', attempts: [], createdAt: 1, queuedAt: 1, version: 0 };
    await d.jobs.create(blocker);
    await expect(submitArray({ ...d, newId: () => arrayId }, caller, spec(250))).rejects.toThrow();
    const left = await Promise.all(Array.from({ length: 250 }, (_, i) => d.jobs.get(arrayJobId(arrayId, i))));
    expect(left.filter((j) => j && j.accountId === caller.accountId)).toHaveLength(0);
    expect((await d.jobs.get(arrayJobId(arrayId, 150)))?.accountId).toBe(squatter.accountId);
    expect((await accountView(d, caller.accountId, true)).usage.queuedJobs).toBe(0);
  }, 120_000);

  it('five concurrent arrays of 300 against a queue limit of 1000: three admitted whole, two refused whole', async () => {
    const caller = await fundedAccount(d, `arr-race-${newId()}`);
    expect(await d.accounts.setLimits(caller.accountId, { maxQueuedJobs: 1000 }, 0)).toBe(true);
    const rs = await Promise.allSettled(Array.from({ length: 5 }, () => submitArray(d, caller, spec(300))));
    const ok = rs.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof submitArray>>> => r.status === 'fulfilled');
    expect(ok).toHaveLength(3);
    for (const r of rs) if (r.status === 'rejected') expect(String(r.reason)).toMatch(/at most 1000 jobs waiting/);
    expect((await accountView(d, caller.accountId, true)).usage.queuedJobs).toBe(900);
    for (const a of ok) {
      const members = await Promise.all(Array.from({ length: 300 }, (_, i) => d.jobs.get(arrayJobId(a.value.id, i))));
      expect(members.every((j) => j?.status === 'QUEUED' && j.arrayMember?.id === a.value.id)).toBe(true);
    }
  }, 180_000);
});
