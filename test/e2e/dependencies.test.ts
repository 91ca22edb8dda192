// Job dependencies end to end (issue 20): `after` on POST /v1/jobs, the local stack over HTTP with a real
// agent. A dependent is held (QUEUED, never placed) until its dependency SUCCEEDED, and starts only after
// that; a dependency that fails ends its dependents (DEPENDENCY_FAILED), down a chain, and gives their
// queue places back; one that already ended is decided at submit; another account's job id is refused with
// the very 404 a missing id gets, and nothing is written; a file a held job names is held with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, problemOf } from '../api/helpers';
import { accountView } from '../../functions/usecases/account-limits';
import { createHash } from 'node:crypto';

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let other: Awaited<ReturnType<Pool['newAccount']>>;

beforeAll(async () => {
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  other = await pool.newAccount('consumer', 'other');
  await pool.addAgent({ name: 'deps-a', gpus: '2xA100-80', providerKey: provider.key });
}, 90_000);
afterAll(async () => pool?.stop());

const job = (command: string[], extra: Record<string, unknown> = {}) => ({ command, resources: { gpus: 1 }, maxAttempts: 1, ...extra });
const get = async (api: typeof consumer.api, id: string) => (await api.get(`/v1/jobs/${id}`)).body.job;
const ended = (api: typeof consumer.api, id: string, ms = 30_000) =>
  eventually(async () => {
    const j = await get(api, id);
    return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(j.status) ? j : undefined;
  }, ms, `job ${id} to end`);
const mine = async () => JSON.stringify((await consumer.api.get('/v1/jobs?limit=100')).body.items.map((j: any) => [j.id, j.status]));

describe('job dependencies on the local stack', () => {
  it('a dependent is held until its dependency SUCCEEDED, then runs: never placed before', async () => {
    const first = (await consumer.api.post('/v1/jobs', job(['sh', '-c', 'sleep 2']))).body.job;
    const r = await consumer.api.post('/v1/jobs', job(['true'], { after: [first.id] }));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const dep = r.body.job;
    expect(dep).toMatchObject({ status: 'QUEUED', after: [first.id], pendingReason: `waiting for job ${first.id} to succeed`, attempts: [] });
    expect(dep.held).toBeUndefined();
    // a GPU is free the whole time (2 GPUs, 1 used): only the dependency holds it back
    await new Promise((res) => setTimeout(res, 1200));
    expect((await get(consumer.api, dep.id)).attempts).toEqual([]);
    const a = await ended(consumer.api, first.id);
    expect(a.status).toBe('SUCCEEDED');
    const b = await ended(consumer.api, dep.id);
    expect(b.status).toBe('SUCCEEDED');
    expect(b.attempts[0].assignedAt).toBeGreaterThanOrEqual(a.finishedAt);
  }, 60_000);

  it('a failed dependency ends its dependents down a chain, at once, and gives their queue places back', async () => {
    const first = (await consumer.api.post('/v1/jobs', job(['sh', '-c', 'sleep 1; exit 3']))).body.job;
    const second = (await consumer.api.post('/v1/jobs', job(['true'], { after: [first.id] }))).body.job;
    const third = (await consumer.api.post('/v1/jobs', job(['true'], { after: [second.id] }))).body.job;
    const a = await ended(consumer.api, first.id);
    expect(a).toMatchObject({ status: 'FAILED', reason: 'EXIT_NONZERO' });
    const [b, c] = await Promise.all([ended(consumer.api, second.id, 5000), ended(consumer.api, third.id, 5000)]);
    expect(b).toMatchObject({ status: 'FAILED', reason: 'DEPENDENCY_FAILED', failedDependency: { id: first.id, status: 'FAILED' }, attempts: [] });
    expect(c).toMatchObject({ status: 'FAILED', reason: 'DEPENDENCY_FAILED', failedDependency: { id: second.id, status: 'FAILED' }, attempts: [] });
    expect((await accountView(pool.stack.deps, consumer.id, true)).usage.queuedJobs).toBe(0);
  }, 60_000);

  it('a dependency that already ended is decided at submit; cancelling a dependency fails its dependents', async () => {
    const okJob = (await consumer.api.post('/v1/jobs', job(['true']))).body.job;
    const badJob = (await consumer.api.post('/v1/jobs', job(['false']))).body.job;
    await ended(consumer.api, okJob.id);
    await ended(consumer.api, badJob.id);
    const failed = await consumer.api.post('/v1/jobs', job(['true'], { after: [okJob.id, badJob.id] }));
    expect(failed.body.job).toMatchObject({ status: 'FAILED', reason: 'DEPENDENCY_FAILED', failedDependency: { id: badJob.id, status: 'FAILED' } });
    const runs = await consumer.api.post('/v1/jobs', job(['true'], { after: [okJob.id] }));
    expect(String(runs.body.job.pendingReason)).not.toMatch(/waiting for job/);
    expect((await ended(consumer.api, runs.body.job.id)).status).toBe('SUCCEEDED');

    const slow = (await consumer.api.post('/v1/jobs', job(['sh', '-c', 'sleep 30']))).body.job;
    const dep = (await consumer.api.post('/v1/jobs', job(['true'], { after: [slow.id] }))).body.job;
    expect((await consumer.api.del(`/v1/jobs/${slow.id}`)).status).toBe(202);
    await ended(consumer.api, slow.id);
    expect(await ended(consumer.api, dep.id, 5000)).toMatchObject({ status: 'FAILED', reason: 'DEPENDENCY_FAILED', failedDependency: { id: slow.id, status: 'CANCELLED' } });
  }, 60_000);

  it('a file a held job names cannot be deleted while it waits; once it ended, it can', async () => {
    const content = 'inputs of a held job';
    const f = await consumer.api.post('/v1/files', { name: 'in.txt', size: content.length, sha256: createHash('sha256').update(content).digest('hex') });
    expect(f.status, JSON.stringify(f.body)).toBe(201);
    expect((await fetch(f.body.uploadUrl, { method: 'PUT', body: content })).status).toBe(200);
    const slow = (await consumer.api.post('/v1/jobs', job(['sh', '-c', 'sleep 30']))).body.job;
    const held = (await consumer.api.post('/v1/jobs', job(['true'], { after: [slow.id], inputs: [{ file: f.body.file.id, path: 'in.txt' }] }))).body.job;
    expect(held.status).toBe('QUEUED');
    expectProblem(await consumer.api.del(`/v1/files/${f.body.file.id}`), 409);
    await consumer.api.del(`/v1/jobs/${slow.id}`);
    expect((await ended(consumer.api, held.id, 10_000)).reason).toBe('DEPENDENCY_FAILED');
    expect((await consumer.api.del(`/v1/files/${f.body.file.id}`)).status).toBe(204);
  }, 60_000);

  it("another account's job is refused exactly like a missing one, and nothing is written", async () => {
    const theirs = (await other.api.post('/v1/jobs', job(['sh', '-c', 'sleep 60']))).body.job;
    const before = { jobs: await mine(), acct: await pool.stack.deps.accounts.get(consumer.id) };
    const a = await consumer.api.post('/v1/jobs', job(['true'], { after: [theirs.id] }));
    const b = await consumer.api.post('/v1/jobs', job(['true'], { after: ['01JZZZZZZZZZZZZZZZZZZZZZZZ'] }));
    expectProblem(a, 404);
    expectProblem(b, 404);
    // the same words but for the id the caller wrote
    expect(JSON.stringify(problemOf(a)).replace(theirs.id, 'X')).toBe(JSON.stringify(problemOf(b)).replace('01JZZZZZZZZZZZZZZZZZZZZZZZ', 'X'));
    // bad shapes: 400
    for (const bad of [[], Array.from({ length: 21 }, (_, i) => `j${i}`), ['a', 'a'], ['a#b'], 'x']) expectProblem(await consumer.api.post('/v1/jobs', job(['true'], { after: bad })), 400, JSON.stringify(bad));
    // nothing written: no job, no queue count, no link on their job
    expect(await mine()).toBe(before.jobs);
    expect(await pool.stack.deps.accounts.get(consumer.id)).toEqual(before.acct);
    expect(await pool.stack.deps.jobs.dependents.of(theirs.id)).toEqual([]);
    await other.api.del(`/v1/jobs/${theirs.id}`);
  }, 60_000);
});
