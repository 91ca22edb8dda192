// Gangs racing single jobs on DynamoDB Local: every rank's claim, the job and every hold are one
// transaction, so no node is over-committed, no gang is ever partly placed, no job is placed twice and the
// ledger balances — whatever interleaving the placers, sweeps, finishes and node losses take.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveRanks } from '../../functions/domain/job/gang';
import type { Caller, Job, Node } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { finishAttempt, startAttempt } from '../../functions/usecases/agent';
import { submitJob } from '../../functions/usecases/jobs';
import { auditLedger } from '../../functions/usecases/ledger';
import { withStatus } from '../../functions/usecases/nodes';
import { loseLiveAttempts, updateNode } from '../../functions/usecases/node-writes';
import { sweep, tryPlace } from '../../functions/usecases/placement';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { setAccountLimits } from '../../functions/usecases/account-limits';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
const consumer: Caller = { accountId: 'gang-consumer', role: 'consumer', keyId: 'k' };
const nodeCaller = (nodeId: string): Caller => ({ accountId: 'p', role: 'node', keyId: 'n', nodeId });

// the other ranks reach a node at its probe URL's host
const addNode = (id: string, gpus: number, model: string, o: { provider?: string; price?: number } = {}): Promise<Node> =>
  insertNode(pool.stack.deps, id, { gpus, model, provider: o.provider ?? 'gang-provider', price: o.price, probeUrl: `http://10.0.0.${id.length}:7000` });

const spec = (model: string, gpus: number, nodes = 1, over: Record<string, unknown> = {}) =>
  SubmitJobSchema.parse({ command: ['true'], resources: { gpus, nodes, gpuModels: [model] }, maxDurationSeconds: 60, ...over });

const live = (j: Job) => (j.gang ? liveRanks(j) : j.attempts.filter((a) => a.id === j.liveAttemptId));

async function checkInvariants(nodeIds: string[], jobIds: string[]): Promise<Job[]> {
  const d = pool.stack.deps;
  const jobs = (await Promise.all(jobIds.map((id) => d.jobs.get(id)))) as Job[];
  for (const id of nodeIds) {
    const node = (await d.nodes.get(id))!;
    const here = jobs.flatMap((j) => live(j).filter((a) => a.nodeId === id).map(() => j.resources.gpus));
    const used = here.reduce((s, g) => s + g, 0);
    expect(node.freeGpus, `free GPUs of ${id}`).toBe(node.totalGpus - used);
    expect(used).toBeLessThanOrEqual(node.totalGpus);
    // the liveByNode index (rank items for gangs) lists exactly the live attempts on the node
    const listed = (await d.jobs.liveOnNode(id)).map((j) => j.liveAttemptId).sort();
    expect(listed).toEqual(jobs.flatMap((j) => live(j).filter((a) => a.nodeId === id).map((a) => a.id)).sort());
  }
  for (const j of jobs) {
    const ranks = live(j);
    // all ranks or none, each on its own node: a placement always has every rank (ranks that exited 0
    // are no longer live while the others finish), and no live attempt outlives its job
    if (j.gang) {
      const generation = j.gang.attemptIds.map((id) => j.attempts.find((a) => a.id === id)!);
      expect(generation.map((a) => a.rank)).toEqual(Array.from({ length: j.resources.nodes }, (_, k) => k));
      expect(new Set(generation.map((a) => a.nodeId)).size).toBe(j.resources.nodes);
      expect(j.attempts.length % j.resources.nodes).toBe(0);
    }
    if (j.status === 'ASSIGNED' || j.status === 'RUNNING') expect(ranks.length, `live ranks of ${j.id}`).toBeGreaterThan(0);
    else expect(ranks).toEqual([]);
    if (j.status === 'QUEUED' && j.gang) expect(liveRanks(j)).toEqual([]);
    expect(Boolean(j.liveAttemptId)).toBe(ranks.length > 0);
  }
  const audit = await auditLedger(d);
  expect(audit.differences).toEqual([]);
  expect(audit.ok).toBe(true);
  const mine = (await Promise.all((await d.jobs.listByAccount(consumer.accountId, 100)).items.map((j) => d.jobs.get(j.id)))) as Job[];
  const holds = mine.flatMap((j) => j.attempts).filter((a) => a.finishedAt === undefined).reduce((s, a) => s + (a.hold ?? 0), 0);
  expect((await d.accounts.get(consumer.accountId))!.held).toBe(holds);
  return jobs;
}

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
  await fundedAccount(pool.stack.deps, consumer.accountId, 10_000_000_000_000);
  // a 12-node gang of 8 GPUs holds 96 at once, next to the earlier tests' live gangs: above the default
  // account limit of 64 GPUs, so an admin allows more
  await setAccountLimits(pool.stack.deps, { accountId: 'gang-admin', role: 'admin', keyId: 'k' }, consumer.accountId, { maxGpus: 1000 });
}, 60_000);
afterAll(async () => pool?.stop());

describe('gang placement under concurrency (DynamoDB Local)', () => {
  it.each([1, 2, 3])('never over-commits, never places part of a gang or a job twice (round %i)', async (round) => {
    const d = pool.stack.deps;
    const model = `G${round}`;
    // 5 nodes, 10 GPUs; gangs of 2-3 ranks × 1-2 GPUs and single jobs race for them
    const nodes = await Promise.all([2, 2, 2, 2, 2].map((g, i) => addNode(`g${round}-${i}`, g, model)));
    const specs = [
      ...Array.from({ length: 5 }, (_, i) => spec(model, (i % 2) + 1, 2 + (i % 2))),
      ...Array.from({ length: 6 }, () => spec(model, 1)),
    ];
    const submitted = await Promise.all([
      ...specs.map((s) => submitJob(d, consumer, s)),
      ...Array.from({ length: 3 }, () => sweep(d).then(() => undefined)),
    ]);
    const ids = submitted.filter((j): j is Job => Boolean(j)).map((j) => j.id);
    await Promise.all(ids.flatMap((id) => [0, 1].map(async () => tryPlace(d, (await d.jobs.get(id))!))));
    await checkInvariants(nodes.map((n) => n.id), ids);
    await sweep(d);
    const after = await checkInvariants(nodes.map((n) => n.id), ids);
    for (const j of after) expect(j.attempts.length).toBe(j.status === 'ASSIGNED' ? j.resources.nodes : 0);
    // nothing that fits stays queued once a sweep ran alone
    const free = await Promise.all(nodes.map(async (n) => (await d.nodes.get(n.id))!.freeGpus));
    for (const j of after.filter((x) => x.status === 'QUEUED')) expect(free.filter((f) => f >= j.resources.gpus).length).toBeLessThan(j.resources.nodes);
    expect(after.some((j) => j.gang && j.status === 'ASSIGNED')).toBe(true);

    // then every placed job ends at once in every way: ranks start, finish, fail, and nodes are lost
    const placed = after.filter((j) => j.status === 'ASSIGNED');
    await Promise.all(placed.flatMap((j) => live(j).map((a) => startAttempt(d, nodeCaller(a.nodeId), j.id, a.id).catch(() => undefined))));
    const lostNode = nodes[round % nodes.length];
    await Promise.all([
      ...placed.flatMap((j) =>
        live(j).map((a, k) =>
          finishAttempt(d, nodeCaller(a.nodeId), j.id, { attemptId: a.id, exitCode: k === 1 && round === 2 ? 1 : 0, outcome: 'exited', lines: [] }).catch(() => undefined),
        ),
      ),
      updateNode(d, lostNode.id, (n) => withStatus(n, 'missedHeartbeats', 'test')).then((n) => loseLiveAttempts(d, n, 'NODE_LOST')),
    ]);
    // the placement the finishes woke runs apart from them (placement-wake.ts): let it end before counting
    await d.placementWake.settled();
    const ended = await checkInvariants(nodes.map((n) => n.id), ids);
    for (const j of ended.filter((x) => placed.some((p) => p.id === x.id))) {
      // a gang ends as a whole: succeeded only if every rank of its last placement exited 0
      if (j.status === 'SUCCEEDED' && j.gang) expect(j.attempts.filter((a) => j.gang!.attemptIds.includes(a.id)).every((a) => a.status === 'SUCCEEDED')).toBe(true);
    }
  }, 90_000);

  it('ends a 12-node gang in one transaction: distinct providers, every rank charged (within the 100-item limit)', async () => {
    const d = pool.stack.deps;
    const nodes = await Promise.all(Array.from({ length: 12 }, (_, i) => addNode(`big-${i}`, 8, 'BIG', { provider: `big-provider-${i}`, price: 1_000_000_000 })));
    const job = await submitJob(d, consumer, spec('BIG', 8, 12));
    expect(job.status).toBe('ASSIGNED');
    await Promise.all(live(job).map((a) => startAttempt(d, nodeCaller(a.nodeId), job.id, a.id)));
    const running = (await d.jobs.get(job.id))!;
    expect(running.status).toBe('RUNNING');
    await new Promise((r) => setTimeout(r, 50)); // metered time, so every settlement has a charge, a fee and a refund
    const rank5 = live(running)[5];
    await finishAttempt(d, nodeCaller(rank5.nodeId), job.id, { attemptId: rank5.id, exitCode: 2, outcome: 'exited', lines: [] });
    const failed = (await d.jobs.get(job.id))!;
    expect(failed).toMatchObject({ status: 'FAILED', reason: 'EXIT_NONZERO', exitCode: 2 });
    expect(failed.attempts.every((a) => (a.charged ?? 0) > 0)).toBe(true);
    await checkInvariants(nodes.map((n) => n.id), [job.id]);
  }, 60_000);
});
