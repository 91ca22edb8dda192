// Job dependencies on DynamoDB Local (issue 20), the races. A held job is never placed, by the inline
// match or any sweep, while a node with free GPUs that fits it waits; its dependency's end decides it
// exactly once although the end's own decision, the sweep's safety net and direct decisions all race for
// it (one write: version 0 → 1; the account's queue count back to 0, never below); a lost decision (the
// end's hook never ran) is made by the sweep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../functions/domain/model';
import { finish, place, start } from '../../functions/domain/job/transitions';
import { makeDocClient } from '../../functions/store/clients';
import { buildDeps, newId, settingsFromEnv, type Deps } from '../../functions/usecases/deps';
import { accountView } from '../../functions/usecases/account-limits';
import { afterEnd, decide, sweepHeld } from '../../functions/usecases/dependencies';
import { applyTransition } from '../../functions/usecases/effects';
import { cancelJob, submitArray, submitJob } from '../../functions/usecases/jobs';
import { sweep } from '../../functions/usecases/placement';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startEngines, type Engines } from '../helpers/engines';

let engines: Engines;
let d: Deps;

beforeAll(async () => {
  engines = await startEngines();
  d = buildDeps({ db: makeDocClient(engines.ddb), sqs: engines.sqs, tables: engines.tableNames, settings: settingsFromEnv({}) });
}, 120_000);
afterAll(async () => {
  await d?.placementWake.settled();
  await engines?.stop();
});

const spec = (model: string, extra: Record<string, unknown> = {}) =>
  ({ command: ['true'], env: {}, resources: { gpus: 1, nodes: 1, gpuModels: [model] }, maxDurationSeconds: 60, maxAttempts: 1, priority: 0, queueTtlSeconds: 3600, ...extra }) as any;

describe('job dependencies, races on DynamoDB Local', () => {
  it('a held job is never placed while its dependency runs, though a fitting node is free; placed once it SUCCEEDED', async () => {
    const model = `M${newId().slice(-6)}`;
    const caller = await fundedAccount(d, `dep-place-${newId()}`);
    const node = await insertNode(d, `n-${newId()}`, { gpus: 2, model, runtime: 'docker' });
    const first = await submitJob(d, caller, spec(model));
    expect(first.status, first.pendingReason).toBe('ASSIGNED');
    const held = await submitJob(d, caller, spec(model, { after: [first.id] }));
    expect(held).toMatchObject({ status: 'QUEUED', held: true, attempts: [] });
    for (let i = 0; i < 3; i++) await sweep(d);
    await sweep(d, { maxJobs: 8 });
    expect((await d.jobs.get(held.id))?.attempts).toEqual([]);
    expect((await d.nodes.get(node.id))?.freeGpus).toBe(1);
    // the dependency runs and succeeds: the end releases the held job into the queue, the sweep places it
    const running = await applyTransition(d, first, (j) => start(j, j.liveAttemptId!, Date.now()));
    const done = await applyTransition(d, running, (j) => finish(j, j.liveAttemptId!, { exitCode: 0, outcome: 'exited' } as any, Date.now()));
    expect(done.status).toBe('SUCCEEDED');
    const released = await d.jobs.get(held.id);
    expect(released?.held).toBeUndefined();
    expect(released?.status).toBe('QUEUED');
    await sweep(d);
    const j = await d.jobs.get(held.id);
    expect(j?.status, j?.pendingReason).toBe('ASSIGNED');
  }, 60_000);

  it('a failing dependency ends each of 40 dependents exactly once while ends, sweeps and decisions race', async () => {
    const caller = await fundedAccount(d, `dep-race-${newId()}`);
    for (let round = 0; round < 5; round++) {
      const dep = await submitJob(d, caller, spec('NONE'));
      const arr = await submitArray(d, caller, { ...spec('NONE', { after: [dep.id] }), array: { size: 40 } });
      expect(arr.jobs.every((j) => j.held && j.version === 0)).toBe(true);
      expect((await accountView(d, caller.accountId, true)).usage.queuedJobs).toBe(41);
      // the dependency is cancelled; its end's decision races 3 more ends' hooks, 3 sweeps and direct decisions
      const cancelled = cancelJob(d, caller, dep.id);
      const ended = { ...dep, status: 'CANCELLED' as const };
      await Promise.all([
        cancelled,
        ...Array.from({ length: 3 }, () => afterEnd(d, ended as Job)),
        ...Array.from({ length: 3 }, () => sweepHeld(d)),
        ...arr.jobs.slice(0, 10).map((j) => decide(d, j.id).catch(() => undefined)),
      ]);
      const after = await Promise.all(arr.jobs.map((j) => d.jobs.get(j.id)));
      for (const j of after) expect(j).toMatchObject({ status: 'FAILED', reason: 'DEPENDENCY_FAILED', failedDependency: { id: dep.id, status: 'CANCELLED' }, version: 1, attempts: [] });
      expect((await accountView(d, caller.accountId, true)).usage.queuedJobs).toBe(0);
    }
  }, 120_000);

  it('a decision lost with the end (its hook never ran) is made by the sweep', async () => {
    const caller = await fundedAccount(d, `dep-lost-${newId()}`);
    const dep = await submitJob(d, caller, spec('NONE'));
    const held = await submitJob(d, caller, spec('NONE', { after: [dep.id] }));
    // the end written without its hook: straight to the store, as a crash after the write would leave it
    await d.jobs.apply(dep, { job: { ...dep, status: 'CANCELLED', reason: 'CANCELLED_BY_USER', finishedAt: Date.now(), version: dep.version + 1 }, effects: [] }, {});
    expect((await d.jobs.get(held.id))?.status).toBe('QUEUED');
    await eventuallySwept(held.id);
    expect(await d.jobs.get(held.id)).toMatchObject({ status: 'FAILED', reason: 'DEPENDENCY_FAILED' });
  }, 60_000);
});

/** the safety net reads held jobs in turns: a few runs reach any one */
async function eventuallySwept(id: string) {
  for (let i = 0; i < 50 && (await d.jobs.get(id))?.status === 'QUEUED'; i++) await sweepHeld(d);
}
