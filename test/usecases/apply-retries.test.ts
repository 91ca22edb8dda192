// applyTransition's `retries`: a JobChangedError (the job's version moved) is answered by reading the job
// again and re-making the transition, up to the count; any other error, a plain 409 with the same text
// included, goes straight to the caller. The store is a stub: this is the helper's contract, the races on
// DynamoDB Local are in placement-race, gang-race, start-ack and verification-race.
import { describe, expect, it, vi } from 'vitest';
import { conflict, JobChangedError } from '../../functions/domain/errors';
import type { Transition } from '../../functions/domain/job/transitions';
import type { Job } from '../../functions/domain/model';
import { errorToProblem } from '../../functions/http/kit/problem';
import type { Deps } from '../../functions/usecases/deps';
import { applyTransition } from '../../functions/usecases/effects';

const job = (version: number) => ({ id: 'j1', version, status: 'QUEUED', attempts: [] }) as unknown as Job;
const bump = (j: Job): Transition => ({ job: { ...j, version: j.version + 1 }, effects: [] });

/** A store whose `apply` fails with `failures` in turn, then writes; `get` answers the job one version on each time. */
function stub(failures: unknown[], reread: (n: number) => Job | undefined = (n) => job(n)) {
  let reads = 0;
  const apply = vi.fn(async (_before: Job, t: Transition) => {
    const e = failures.shift();
    if (e) throw e;
    return t.job;
  });
  const get = vi.fn(async () => reread(++reads));
  const d = { jobs: { apply, get }, nodes: { get: vi.fn() }, queues: { sendToNode: vi.fn() } } as unknown as Deps;
  return { d, apply, get };
}

describe('applyTransition retries', () => {
  it('retries a JobChangedError from a fresh read, up to the count, and returns the write that went through', async () => {
    const { d, apply, get } = stub([new JobChangedError(), new JobChangedError()]);
    const make = vi.fn(bump);
    const after = await applyTransition(d, job(0), make, { retries: 2 });
    expect(apply).toHaveBeenCalledTimes(3);
    expect(get).toHaveBeenCalledTimes(2);
    // each try is made from the job as read again, not from the stale copy
    expect(make.mock.calls.map(([j]) => j.version)).toEqual([0, 1, 2]);
    expect(after.version).toBe(3);
  });

  it('gives the JobChangedError to the caller once the retries are spent', async () => {
    const { d, apply } = stub(Array.from({ length: 10 }, () => new JobChangedError()));
    await expect(applyTransition(d, job(0), bump, { retries: 3 })).rejects.toBeInstanceOf(JobChangedError);
    expect(apply).toHaveBeenCalledTimes(4);
  });

  it('does not retry without a count (the default is none)', async () => {
    const { d, apply, get } = stub([new JobChangedError()]);
    await expect(applyTransition(d, job(0), bump)).rejects.toBeInstanceOf(JobChangedError);
    expect(apply).toHaveBeenCalledTimes(1);
    expect(get).not.toHaveBeenCalled();
  });

  it('never retries another error, not even a 409 that reads the same', async () => {
    for (const e of [conflict('job changed concurrently'), conflict('attempt a1 is not live'), new Error('store down')]) {
      const { d, apply, get } = stub([e]);
      await expect(applyTransition(d, job(0), bump, { retries: 5 })).rejects.toBe(e);
      expect(apply).toHaveBeenCalledTimes(1);
      expect(get).not.toHaveBeenCalled();
    }
  });

  it("a refusal by the re-made transition is the answer: it is thrown, not retried", async () => {
    const { d, apply } = stub([new JobChangedError()], (n) => ({ ...job(n), status: 'SUCCEEDED' }) as Job);
    const make = (j: Job) => {
      if (j.status !== 'QUEUED') throw conflict(`job is ${j.status}`);
      return bump(j);
    };
    await expect(applyTransition(d, job(0), make, { retries: 5 })).rejects.toThrow('job is SUCCEEDED');
    expect(apply).toHaveBeenCalledTimes(1);
  });

  it('stops when the job is gone on the re-read', async () => {
    const { d, apply } = stub([new JobChangedError()], () => undefined);
    await expect(applyTransition(d, job(0), bump, { retries: 5 })).rejects.toBeInstanceOf(JobChangedError);
    expect(apply).toHaveBeenCalledTimes(1);
  });

  it('reaches an HTTP caller as the same 409 problem as before', () => {
    const r = errorToProblem(new JobChangedError());
    expect(r.statusCode).toBe(409);
    expect(JSON.parse(r.body)).toEqual({ type: 'https://gpupool.dev/problems/conflict', title: 'Conflict', status: 409, detail: 'job changed concurrently' });
  });
});
