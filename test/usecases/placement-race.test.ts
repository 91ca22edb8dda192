// Races on DynamoDB Local: many placers, duplicate starts, finish against the reaper. The invariants
// hold because every change is one conditional write or transaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller, Job, Node } from '../../functions/domain/model';
import { finishAttempt, startAttempt } from '../../functions/usecases/agent';
import { submitJob } from '../../functions/usecases/jobs';
import { sweep, tryPlace } from '../../functions/usecases/placement';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { applyTransition } from '../../functions/usecases/effects';
import { cancel, lose } from '../../functions/domain/job/transitions';
import { auditLedger } from '../../functions/usecases/ledger';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
const consumer: Caller = { accountId: 'race-consumer', role: 'consumer', keyId: 'k' };

const addNode = (id: string, gpus: number, model = 'A100', provider = 'race-provider'): Promise<Node> => insertNode(pool.stack.deps, id, { gpus, model, provider });

const spec = (gpus: number) => SubmitJobSchema.parse({ command: ['true'], resources: { gpus, gpuModels: ['A100'] } });

async function checkInvariants(nodeIds: string[], jobIds: string[]) {
  const d = pool.stack.deps;
  const jobs = (await Promise.all(jobIds.map((id) => d.jobs.get(id)))) as Job[];
  for (const id of nodeIds) {
    const node = (await d.nodes.get(id))!;
    const used = jobs.filter((j) => j.liveAttemptId && j.nodeId === id).reduce((s, j) => s + j.resources.gpus, 0);
    expect(node.freeGpus).toBeGreaterThanOrEqual(0);
    expect(used).toBeLessThanOrEqual(node.totalGpus);
    expect(node.freeGpus).toBe(node.totalGpus - used);
  }
  for (const j of jobs) {
    // at most one live attempt, and the job's state agrees with it
    expect(j.attempts.filter((a) => a.status === 'ASSIGNED' || a.status === 'RUNNING').length).toBeLessThanOrEqual(1);
    expect(Boolean(j.liveAttemptId)).toBe(j.status === 'ASSIGNED' || j.status === 'RUNNING');
  }
  // escrow: every hold and settlement was posted once, and the consumer's held balance is the live holds
  const audit = await auditLedger(d);
  expect(audit.differences).toEqual([]);
  expect(audit.ok).toBe(true);
  const all = (await Promise.all((await d.jobs.listByAccount(consumer.accountId, 100)).items.map((j) => d.jobs.get(j.id)))) as Job[];
  const liveHolds = all.flatMap((j) => j.attempts).filter((a) => a.finishedAt === undefined).reduce((s, a) => s + (a.hold ?? 0), 0);
  expect((await d.accounts.get(consumer.accountId))!.held).toBe(liveHolds);
  return jobs;
}

beforeAll(async () => {
  // no timers: the test drives placement itself
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
  // placements hold escrow: the consumer needs an account with credits
  await fundedAccount(pool.stack.deps, consumer.accountId);
}, 60_000);
afterAll(async () => pool?.stop());

describe('placement under concurrency (DynamoDB Local)', () => {
  it.each([1, 2, 3])('never over-commits a node or places a job twice (round %i)', async (round) => {
    const d = pool.stack.deps;
    const nodes = await Promise.all([addNode(`r${round}-a`, 4), addNode(`r${round}-b`, 2), addNode(`r${round}-c`, 1)]);
    // 7 GPUs, 12 jobs of 1-2 GPUs: submitted concurrently (inline placement) while 4 sweeps run
    const jobs = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) => submitJob(d, consumer, spec((i % 2) + 1))),
      ...Array.from({ length: 4 }, () => sweep(d).then(() => undefined)),
    ]);
    const ids = jobs.filter((j): j is Job => Boolean(j)).map((j) => j.id);
    // and every queued one tried again concurrently, twice each
    await Promise.all(ids.flatMap((id) => [0, 1].map(async () => tryPlace(d, (await d.jobs.get(id))!))));
    await checkInvariants(nodes.map((n) => n.id), ids);
    // placers that lost every race leave jobs queued; one more sweep, alone, must leave none that fits
    await sweep(d);
    const after = await checkInvariants(nodes.map((n) => n.id), ids);
    const placed = after.filter((j) => j.status === 'ASSIGNED');
    const free = await Promise.all(nodes.map(async (n) => (await d.nodes.get(n.id))!.freeGpus));
    for (const j of after.filter((x) => x.status === 'QUEUED')) expect(free.every((f) => f < j.resources.gpus)).toBe(true);
    for (const j of after) expect(j.attempts.length).toBe(j.status === 'ASSIGNED' ? 1 : 0);
    // clean up: give the GPUs back so the next round's nodes are the only free ones
    for (const j of placed) await applyTransition(d, j, (x) => lose({ ...x, maxAttempts: 1 }, x.liveAttemptId!, 'NODE_LOST', Date.now()));
    for (const j of after.filter((x) => x.status === 'QUEUED')) await applyTransition(d, j, (x) => cancel(x, Date.now()));
  }, 60_000);

  it('starts an attempt once when its dispatch is delivered many times at once', async () => {
    const d = pool.stack.deps;
    const node = await addNode('dup-start', 1, 'T4');
    const job = await submitJob(d, consumer, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: ['T4'] } }));
    const placed = (await d.jobs.get(job.id))!;
    if (placed.status !== 'ASSIGNED') await tryPlace(d, placed);
    const j = (await d.jobs.get(job.id))!;
    const nodeCaller: Caller = { accountId: 'race-provider', role: 'node', keyId: 'n', nodeId: j.nodeId };
    // a repeat by the same node is answered like the first (its answer may have been lost: start-ack.ts);
    // the agent runs an attempt once however often it is told, and the control plane starts it once
    const results = await Promise.all(Array.from({ length: 10 }, () => startAttempt(d, nodeCaller, j.id, j.liveAttemptId!)));
    for (const r of results) expect(r).toMatchObject({ status: 'RUNNING', attemptId: j.liveAttemptId });
    const after = (await d.jobs.get(job.id))!;
    expect(after.attempts).toHaveLength(1);
    expect(after.attempts[0]).toMatchObject({ id: j.liveAttemptId, status: 'RUNNING', nodeId: node.id });
    // no other node can start it
    const other = await addNode('dup-start-other', 1, 'T4-other');
    await expect(startAttempt(d, { ...nodeCaller, nodeId: other.id }, j.id, j.liveAttemptId!)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('lets exactly one of finish and the reaper end an attempt, releasing its GPUs once', async () => {
    const d = pool.stack.deps;
    const node = await addNode('finish-vs-reaper', 2, 'L4');
    const job = await submitJob(d, consumer, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 2, gpuModels: ['L4'] }, maxAttempts: 1 }));
    let j = (await d.jobs.get(job.id))!;
    if (j.nodeId !== node.id) return expect.unreachable(`placed on ${j.nodeId}`);
    const nodeCaller: Caller = { accountId: 'race-provider', role: 'node', keyId: 'n', nodeId: node.id };
    await startAttempt(d, nodeCaller, j.id, j.liveAttemptId!);
    j = (await d.jobs.get(job.id))!;
    const results = await Promise.allSettled([
      finishAttempt(d, nodeCaller, j.id, { attemptId: j.liveAttemptId!, exitCode: 0, outcome: 'exited', lines: [] }),
      applyTransition(d, j, (x) => lose(x, x.liveAttemptId!, 'NODE_LOST', Date.now())),
      finishAttempt(d, nodeCaller, j.id, { attemptId: j.liveAttemptId!, exitCode: 0, outcome: 'exited', lines: [] }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const final = (await d.jobs.get(job.id))!;
    expect(['SUCCEEDED', 'FAILED']).toContain(final.status);
    expect((await d.nodes.get(node.id))!.freeGpus).toBe(2);
  });
});
