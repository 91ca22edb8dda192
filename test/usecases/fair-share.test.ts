// Per-account fair share on DynamoDB Local: one account's backlog of hundreds of jobs, deeper than the
// pages the sweep reads from the sharded queue, must not keep another account's single job waiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTransition } from '../../functions/usecases/effects';
import { lose } from '../../functions/domain/job/transitions';
import type { Job, Node } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { EMPTY_GRACE_MS } from '../../functions/store/queue-accounts';
import { sweep } from '../../functions/usecases/placement';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
const BACKLOG = 500;

const account = (id: string) => fundedAccount(pool.stack.deps, id, 10_000_000_000_000);

/** A queued job as submit stores it (the inline match is left out: no node fits yet). */
async function queue(accountId: string, id: string, createdAt: number): Promise<Job> {
  const job: Job = { ...SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: ['FAIR'] } }), id, accountId, status: 'QUEUED', attempts: [], createdAt, queuedAt: createdAt, version: 0 };
  await pool.stack.deps.jobs.create(job);
  return job;
}

const addNode = (id: string, gpus: number): Promise<Node> => insertNode(pool.stack.deps, id, { gpus, model: 'FAIR', provider: 'fair-provider' });

/** Gives the node's GPUs back (the placed jobs end without using an attempt), so the next sweep has room again. */
async function freeNode(nodeId: string) {
  const d = pool.stack.deps;
  for (const live of await d.jobs.liveOnNode(nodeId)) {
    const j = (await d.jobs.get(live.id))!;
    await applyTransition(d, j, (x) => lose({ ...x, maxAttempts: 1 }, x.liveAttemptId!, 'NODE_LOST', Date.now()));
  }
}

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
  await account('fair-a');
  await account('fair-b');
}, 60_000);
afterAll(async () => pool?.stop());

describe('fair share across accounts (DynamoDB Local)', () => {
  it("places B's single job within the first sweeps although A queued hundreds before it", async () => {
    const d = pool.stack.deps;
    const t0 = Date.now() - 1_000_000;
    for (let i = 0; i < BACKLOG; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => queue('fair-a', `fair-a-${String(i + k).padStart(4, '0')}`, t0 + i + k)));
    const b = await queue('fair-b', 'fair-b-only', Date.now());
    // the sharded queue's pages alone hold only A's oldest jobs: B's is not among them
    const global = await d.jobs.queued(Math.ceil(200 / 4));
    expect(global.some((j) => j.id === b.id)).toBe(false);
    // capacity for two jobs per sweep
    const node = await addNode('fair-node', 2);
    let sweeps = 0;
    for (; sweeps < 2; sweeps++) {
      expect(await sweep(d)).toBe(2);
      if ((await d.jobs.get(b.id))!.status === 'ASSIGNED') break;
      await freeNode(node.id);
    }
    expect((await d.jobs.get(b.id))!.status).toBe('ASSIGNED');
    expect(sweeps).toBe(0); // in fact the first sweep: A's oldest, then B's
    await freeNode(node.id);
  }, 120_000);

  it("removes an account's marker only after its queue looked empty for a while, and renews it when a job comes", async () => {
    const d = pool.stack.deps;
    const listed = async () => (await d.jobs.accounts.list(100)).find((a) => a.accountId === 'fair-b');
    await freeNode('fair-node');
    // a bounded sweep (after a finish) leaves the markers alone: it writes nothing
    await sweep(d, { maxJobs: 4 });
    expect((await listed())?.emptySince).toBeUndefined();
    // B's queue is empty now: the next full sweep that reads it stamps the marker, and keeps it
    await sweep(d, { maxJobs: 4, full: true });
    expect(await listed()).toMatchObject({ emptySince: expect.any(Number) });
    // a job that arrives now renews the marker; B is read again
    await queue('fair-b', 'fair-b-two', Date.now());
    expect((await listed())?.emptySince).toBeUndefined();
    await freeNode('fair-node');
    await sweep(d, { maxJobs: 4, full: true });
    expect((await d.jobs.get('fair-b-two'))!.status).toBe('ASSIGNED');
    // empty again: stamped by one sweep, removed only by a sweep after the grace
    await sweep(d, { maxJobs: 4, full: true });
    expect(await listed()).toMatchObject({ emptySince: expect.any(Number) });
    await sweep(d, { maxJobs: 4, full: true });
    expect(await listed()).toBeDefined();
    await sweep({ ...d, now: () => Date.now() + EMPTY_GRACE_MS + 1 }, { maxJobs: 4, full: true });
    expect(await listed()).toBeUndefined();
    // A still has its backlog: its marker stays
    expect((await d.jobs.accounts.list(100)).map((a) => a.accountId)).toContain('fair-a');
  }, 60_000);
});
