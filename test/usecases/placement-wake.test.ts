// Freed capacity wakes placement instead of sweeping inside the request (issue 18): a finish never waits
// on, nor fails with, a sweep of other accounts' jobs; sweeps in one process never overlap; on AWS a wake
// is one message on the placement queue (here the local SQS server).
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller, Job } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { finishAttempt, startAttempt } from '../../functions/usecases/agent';
import { submitJob } from '../../functions/usecases/jobs';
import { wakePlacement } from '../../functions/usecases/placement';
import { InProcessPlacementWake, SqsPlacementWake } from '../../functions/usecases/placement-wake';
import { startSqsLocal, type SqsLocal } from '../../lib/local/sqs-local';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

describe('in-process placement wake', () => {
  it('never runs two sweeps at once, and serves wakes that arrive during a run with exactly one more', async () => {
    const wake = new InProcessPlacementWake();
    let running = 0;
    let most = 0;
    let runs = 0;
    let release!: () => void;
    const sweep = async () => {
      runs++;
      most = Math.max(most, ++running);
      if (runs === 1) await new Promise<void>((r) => (release = r));
      running--;
    };
    await wake.wake(sweep);
    for (let i = 0; i < 20; i++) await wake.wake(sweep);
    expect(runs).toBe(1);
    release();
    await wake.settled();
    expect(runs).toBe(2);
    expect(most).toBe(1);
  });

  it('answers at once and logs a failing sweep instead of throwing it at the waker', async () => {
    const errors: unknown[] = [];
    const wake = new InProcessPlacementWake((e) => errors.push(e));
    await expect(wake.wake(() => Promise.reject(new Error('store down')))).resolves.toBeUndefined();
    await wake.settled();
    expect(errors).toHaveLength(1);
    await wake.wake(async () => undefined);
    await wake.settled();
    expect(errors).toHaveLength(1);
  });
});

describe('SQS placement wake (local SQS server)', () => {
  let sqsLocal: SqsLocal;
  beforeAll(async () => {
    sqsLocal = await startSqsLocal();
  });
  afterAll(async () => sqsLocal?.stop());

  it('sends one message per wake on the placement queue, and never throws when the queue is gone', async () => {
    const sqs = new SQSClient({ endpoint: sqsLocal.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'placement-wake-test' }));
    const wake = new SqsPlacementWake(sqs, QueueUrl!);
    await wake.wake();
    await wake.wake();
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(got.Messages?.length).toBe(2);
    await expect(new SqsPlacementWake(sqs, `${QueueUrl}-missing`).wake()).resolves.toBeUndefined();
    sqs.destroy();
  });
});

describe('a finish and placement (DynamoDB Local)', () => {
  let pool: Pool;
  const consumer: Caller = { accountId: 'wake-consumer', role: 'consumer', keyId: 'k' };
  const spec = SubmitJobSchema.parse({ command: ['true'], resources: { gpus: 1, gpuModels: ['A100'] } });
  beforeAll(async () => {
    // no timers: only wakes place
    pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000 });
    await fundedAccount(pool.stack.deps, consumer.accountId);
  }, 60_000);
  afterAll(async () => pool?.stop());

  it('succeeds when the placement it wakes fails, and the next job is placed by the wake, not the request', async () => {
    const d = pool.stack.deps;
    const node = await insertNode(d, 'wake-node', { gpus: 1, model: 'A100', provider: 'wake-provider' });
    const caller: Caller = { accountId: 'wake-provider', role: 'node', keyId: 'nk', nodeId: node.id };
    const first = (await submitJob(d, consumer, spec)) as Job;
    expect(first.status).toBe('ASSIGNED');
    const second = (await submitJob(d, consumer, spec)) as Job;
    expect(second.status).toBe('QUEUED');
    await startAttempt(d, caller, first.id, first.liveAttemptId!);

    // the queue read that a sweep begins with fails: the finish, already committed, must still answer
    const queuedOf = d.jobs.queuedOf.bind(d.jobs);
    let failures = 0;
    d.jobs.queuedOf = async () => {
      failures++;
      throw new Error('injected: queue read failed');
    };
    try {
      const answer = await finishAttempt(d, caller, first.id, { attemptId: first.liveAttemptId!, exitCode: 0, outcome: 'exited', lines: [] });
      expect(answer.status).toBe('SUCCEEDED');
      await d.placementWake.settled();
      expect(failures).toBeGreaterThan(0);
    } finally {
      d.jobs.queuedOf = queuedOf;
    }
    expect((await d.jobs.get(second.id))!.status).toBe('QUEUED');

    // with the store back, a wake places it (the request that woke it did not wait for that)
    const placedBy = await eventually(async () => {
      await wakePlacement(d);
      await d.placementWake.settled();
      const j = (await d.jobs.get(second.id))!;
      return j.status === 'ASSIGNED' ? j : undefined;
    }, 20_000, 'the woken sweep placed the waiting job');
    expect(placedBy.nodeId).toBe(node.id);
  }, 60_000);
});
