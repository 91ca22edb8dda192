// Issue 14 item 3 on DynamoDB Local, through the use cases: a repeated start is answered like the first,
// a heartbeat that no longer lists a RUNNING attempt ends it LOST (and the job is placed again at once),
// and neither a start racing the heartbeat nor an attempt whose dispatch is still on its way is lost.
// Also the failover half: a start moves the node to the busy deadline, and a session places waiting work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller, Job } from '../../functions/domain/model';
import { DEADLINE_PERIODS, heartbeatDeadline } from '../../functions/domain/node/liveness';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { heartbeat, openSession, startAttempt } from '../../functions/usecases/agent';
import { submitJob } from '../../functions/usecases/jobs';
import { auditLedger } from '../../functions/usecases/ledger';
import { withStatus } from '../../functions/usecases/nodes';
import { updateNode } from '../../functions/usecases/node-writes';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
let consumer: Caller;
const nodeCaller = (nodeId: string): Caller => ({ accountId: 'p', role: 'node', keyId: 'n', nodeId });
const d = () => pool.stack.deps;
let n = 0;

beforeAll(async () => {
  // no background sweep or reaper: every placement and loss here is the use case's own doing
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
  consumer = await fundedAccount(d(), 'start-ack-consumer');
}, 60_000);
afterAll(async () => {
  if (pool) expect((await auditLedger(d())).differences).toEqual([]);
  await pool?.stop();
});

/** A fresh one-GPU node of its own model with one job placed on it (ASSIGNED). */
async function assigned(): Promise<{ nodeId: string; job: Job; attemptId: string }> {
  const model = `SA${++n}`;
  const nodeId = `start-ack-${n}`;
  await insertNode(d(), nodeId, { gpus: 1, model });
  const job = await submitJob(d(), consumer, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: [model] }, maxDurationSeconds: 600 }));
  const placed = (await d().jobs.get(job.id))!;
  expect(placed).toMatchObject({ status: 'ASSIGNED', nodeId });
  return { nodeId, job: placed, attemptId: placed.liveAttemptId! };
}
const jobNow = (id: string) => d().jobs.get(id).then((j) => j!);

describe('start acknowledgement', () => {
  it('answers a repeated start of the same attempt by the same node like the first, and keeps the highest counter', async () => {
    const { nodeId, job, attemptId } = await assigned();
    const first = await startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 100);
    const again = await startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 105);
    // the same answer (the lease left counts down between the calls)
    const same = (r: typeof first) => ({ status: r.status, attemptId: r.attemptId });
    expect(same(again)).toEqual(same(first));
    expect(first).toMatchObject({ status: 'RUNNING', attemptId });
    const late = await startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 101); // an older retry arriving late
    expect(same(late)).toEqual(same(first));
    const after = await jobNow(job.id);
    expect(after.attempts).toHaveLength(1);
    expect(after.attempts[0]).toMatchObject({ status: 'RUNNING', startSeq: 105 });
    // another node never learns the attempt exists
    await insertNode(d(), `${nodeId}-other`, { gpus: 1, model: 'OTHER' });
    await expect(startAttempt(d(), nodeCaller(`${nodeId}-other`), job.id, attemptId, 1)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('ends LOST a RUNNING attempt the heartbeat no longer lists and places the job again at once; a late repeat start is refused', async () => {
    const { nodeId, job, attemptId } = await assigned();
    await startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 10);
    await heartbeat(d(), nodeCaller(nodeId), { running: [], startSeq: 10 });
    // the placement the heartbeat woke (placement-wake.ts)
    await d().placementWake.settled();
    const after = await jobNow(job.id);
    expect(after.attempts[0]).toMatchObject({ id: attemptId, status: 'LOST', reason: 'NODE_LOST' });
    // the only node that fits is this one: placed there again within the heartbeat
    expect(after).toMatchObject({ status: 'ASSIGNED', nodeId });
    expect(after.attempts).toHaveLength(2);
    await expect(startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 11)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('never loses a start the heartbeat could not know of (counter above the beat), an attempt it lists, or one not yet started', async () => {
    const { nodeId, job, attemptId } = await assigned();
    // ASSIGNED: the dispatch may still be on its way; the dispatch timeout deals with it
    await heartbeat(d(), nodeCaller(nodeId), { running: [], startSeq: 50 });
    expect(await jobNow(job.id)).toMatchObject({ status: 'ASSIGNED', liveAttemptId: attemptId });
    // the start (counter 51) reached the control plane before a beat listed while it was being sent (counter 50)
    await startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 51);
    await heartbeat(d(), nodeCaller(nodeId), { running: [], startSeq: 50 });
    expect(await jobNow(job.id)).toMatchObject({ status: 'RUNNING', liveAttemptId: attemptId });
    await heartbeat(d(), nodeCaller(nodeId), { running: [attemptId], startSeq: 51 });
    expect(await jobNow(job.id)).toMatchObject({ status: 'RUNNING', liveAttemptId: attemptId });
    // an agent that sends no counter (older version) is not judged by its list
    await heartbeat(d(), nodeCaller(nodeId), { running: [] });
    expect(await jobNow(job.id)).toMatchObject({ status: 'RUNNING', liveAttemptId: attemptId });
  });

  it('a repeated start and a heartbeat racing to lose the attempt: exactly one wins', async () => {
    for (let i = 0; i < 6; i++) {
      const { nodeId, job, attemptId } = await assigned();
      await startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 1);
      const [start] = await Promise.allSettled([
        startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 3),
        heartbeat(d(), nodeCaller(nodeId), { running: [], startSeq: 2 }),
      ]);
      const a = (await jobNow(job.id)).attempts.find((x) => x.id === attemptId)!;
      // the repeat was answered 200 only if the attempt is still live (the agent runs it, and the next beat lists it)
      if (start.status === 'fulfilled') expect(a).toMatchObject({ status: 'RUNNING', startSeq: 3 });
      else expect(a).toMatchObject({ status: 'LOST' });
    }
  });
});

describe('failover', () => {
  it('a start moves the node from the idle to the busy deadline and says so in its lease', async () => {
    const { nodeId, job, attemptId } = await assigned();
    const { busySeconds } = d().settings.heartbeat;
    const res = await startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 1);
    const node = (await d().nodes.get(nodeId))!;
    expect(node.heartbeatSeconds).toBe(busySeconds);
    expect(heartbeatDeadline(node)! - node.lastSeenAt!).toBe(DEADLINE_PERIODS * busySeconds * 1000);
    expect(res.leaseSeconds).toBeGreaterThan(DEADLINE_PERIODS * busySeconds - 2);
    expect(res.leaseSeconds).toBeLessThanOrEqual(DEADLINE_PERIODS * busySeconds);
  });

  it('a start on a busy node whose deadline is near is written as a beat: the lease it answers outlasts the next beat', async () => {
    const { nodeId, job, attemptId } = await assigned();
    const { busySeconds } = d().settings.heartbeat;
    // already on the busy period, its last written beat 3.5 periods ago: half a period of lease left
    const node = (await d().nodes.get(nodeId))!;
    expect(await d().nodes.touch(node, d().now() - 3.5 * busySeconds * 1000, busySeconds)).toBe(true);
    const res = await startAttempt(d(), nodeCaller(nodeId), job.id, attemptId, 1);
    // the agent postpones its next beat by a period after a start: the lease must reach past it with room
    expect(res.leaseSeconds).toBeGreaterThan(3 * busySeconds);
  });

  it('a node opening a session places waiting work at once, without waiting for the sweep', async () => {
    const model = `SA${++n}`;
    const nodeId = `start-ack-${n}`;
    await insertNode(d(), nodeId, { gpus: 1, model });
    await updateNode(d(), nodeId, (x) => withStatus(x, 'missedHeartbeats'));
    const job = await submitJob(d(), consumer, SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: [model] } }));
    expect((await jobNow(job.id)).status).toBe('QUEUED');
    await openSession(d(), nodeCaller(nodeId), [], { bootId: 'boot-2' });
    await d().placementWake.settled();
    expect(await jobNow(job.id)).toMatchObject({ status: 'ASSIGNED', nodeId });
  });
});
