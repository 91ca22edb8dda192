// Fault tolerance, proven by breaking things: a killed agent, a frozen agent, duplicated dispatch
// messages, cancel and timeout. Real agent processes on the local stack, with short heartbeats so a
// dead node is noticed in seconds (busy 1 s: OFFLINE 3-4 s after its last beat).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEADLINES } from '../../functions/domain/job/deadlines';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { pidsOfAttempt } from '../helpers/procs';

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
const FAST = { heartbeat: { busySeconds: 1, idleSeconds: 2 }, deadlines: { ...DEFAULT_DEADLINES, dispatchTimeoutMs: 4000, timeoutGraceMs: 2000, cancelGraceMs: 5000 } };

let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;

const job = (id: string) => consumer.api.get(`/v1/jobs/${id}`).then((r) => r.body.job);
const waitStatus = (id: string, statuses: string[], timeoutMs = 30_000) =>
  eventually(async () => {
    const j = await job(id);
    return statuses.includes(j.status) ? j : undefined;
  }, timeoutMs, `job ${id} in ${statuses}`);

/** A command that records each attempt's start and end in a file, one line each. */
const recorder = (file: string, seconds: number) => ['sh', '-c', `echo "start $GPUPOOL_ATTEMPT_ID" >> ${file}; sleep ${seconds}; echo "end $GPUPOOL_ATTEMPT_ID" >> ${file}`];
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');

beforeAll(async () => {
  pool = await startPool({ settings: FAST, reaperMs: 250, sweepMs: 500 });
  provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
}, 60_000);
afterAll(async () => {
  // after every fault above, the ledger still balances (issue #7: the audit after the chaos tests)
  if (pool) expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  await pool?.stop();
});

describe('chaos on the local stack', () => {
  it('re-places the job of a kill -9ed agent on another node', async () => {
    const a = await pool.addAgent({ name: 'kill-a', gpus: '1xL4-24', providerKey: provider.key });
    const b = await pool.addAgent({ name: 'kill-b', gpus: '1xL4-24', providerKey: provider.key, price: 9_000_000 });
    const file = path.join(pool.dir, 'kill.log');
    writeFileSync(file, '');
    const r = await consumer.api.post('/v1/jobs', { command: recorder(file, 2), resources: { gpus: 1, gpuModels: ['L4'] } });
    const first = await waitStatus(r.body.job.id, ['RUNNING']);
    expect(first.nodeId).toBe(a.nodeId); // the cheaper node
    const killedAt = Date.now();
    a.proc.kill('SIGKILL');
    const moved = await eventually(async () => {
      const j = await job(first.id);
      return j.status === 'RUNNING' && j.nodeId === b.nodeId ? j : undefined;
    }, 20_000, 'the job running on the other node');
    console.log(`chaos: kill -9 → running elsewhere in ${Date.now() - killedAt} ms`);
    const done = await waitStatus(first.id, FINAL);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.attempts).toHaveLength(2);
    expect(done.attempts[0]).toMatchObject({ nodeId: a.nodeId, status: 'LOST', reason: 'NODE_LOST' });
    expect(done.attempts[1]).toMatchObject({ nodeId: b.nodeId, status: 'SUCCEEDED' });
    expect(moved.attempts[1].startedAt - killedAt).toBeLessThan(15_000);
    await b.stop();
  }, 60_000);

  it('fences a frozen agent: its stale attempt is killed and the job completes once elsewhere', async () => {
    const a = await pool.addAgent({ name: 'freeze-a', gpus: '1xT4-16', providerKey: provider.key });
    const b = await pool.addAgent({ name: 'freeze-b', gpus: '1xT4-16', providerKey: provider.key, price: 9_000_000 });
    const file = path.join(pool.dir, 'freeze.log');
    writeFileSync(file, '');
    const r = await consumer.api.post('/v1/jobs', { command: recorder(file, 9), resources: { gpus: 1, gpuModels: ['T4'] } });
    const first = await waitStatus(r.body.job.id, ['RUNNING']);
    expect(first.nodeId).toBe(a.nodeId);
    const staleAttempt = first.attempts[0].id;
    await eventually(async () => (pidsOfAttempt(staleAttempt).length ? true : undefined), 5000, 'attempt process');
    a.proc.kill('SIGSTOP');
    try {
      await eventually(async () => {
        const j = await job(first.id);
        return j.status === 'RUNNING' && j.nodeId === b.nodeId ? j : undefined;
      }, 20_000, 'the job running on the other node');
    } finally {
      a.proc.kill('SIGCONT');
    }
    // the thawed agent learns its attempt moved on and kills it before it could finish
    await eventually(async () => (pidsOfAttempt(staleAttempt).length === 0 ? true : undefined), 10_000, 'stale attempt killed');
    const done = await waitStatus(first.id, FINAL, 30_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.attempts.map((x: { status: string }) => x.status)).toEqual(['LOST', 'SUCCEEDED']);
    const log = lines(file);
    expect(log.filter((l) => l.startsWith('end'))).toEqual([`end ${done.attempts[1].id}`]);
    expect(log).toContain(`start ${staleAttempt}`);
    await Promise.all([a.stop(), b.stop()]);
  }, 90_000);

  it('runs nothing twice when every dispatch message is delivered twice', async () => {
    const d = pool.stack.deps;
    d.settings.queues.duplicateSends = true;
    try {
      const a = await pool.addAgent({ name: 'dup-a', gpus: '2xRTX4090-24', providerKey: provider.key });
      const file = path.join(pool.dir, 'dup.log');
      writeFileSync(file, '');
      const submitted = await Promise.all(
        Array.from({ length: 10 }, () => consumer.api.post('/v1/jobs', { command: recorder(file, 0.1), resources: { gpus: 1, gpuModels: ['RTX4090'] } })),
      );
      const done = await Promise.all(submitted.map((r) => waitStatus(r.body.job.id, FINAL)));
      for (const j of done) {
        expect(j.status).toBe('SUCCEEDED');
        expect(j.attempts).toHaveLength(1);
      }
      const starts = lines(file).filter((l) => l.startsWith('start'));
      expect(starts).toHaveLength(10);
      expect(new Set(starts).size).toBe(10);
      await a.stop();
    } finally {
      d.settings.queues.duplicateSends = false;
    }
  }, 60_000);

  it('cancels a running job and times out a long one, leaving no process behind', async () => {
    const a = await pool.addAgent({ name: 'ct-a', gpus: '2xA10G-24', providerKey: provider.key });
    const c = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'sleep 60 & wait'], resources: { gpus: 1, gpuModels: ['A10G'] } });
    const t = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'sleep 60 & wait'], resources: { gpus: 1, gpuModels: ['A10G'] }, maxDurationSeconds: 2 });
    const running = await waitStatus(c.body.job.id, ['RUNNING']);
    await eventually(async () => (pidsOfAttempt(running.attempts[0].id).length >= 2 ? true : undefined), 5000, 'job processes');
    const cancelledAt = Date.now();
    expect((await consumer.api.del(`/v1/jobs/${running.id}`)).status).toBe(202);
    const cancelled = await waitStatus(running.id, FINAL, 10_000);
    expect(cancelled).toMatchObject({ status: 'CANCELLED', reason: 'CANCELLED_BY_USER' });
    expect(Date.now() - cancelledAt).toBeLessThan(10_000);
    expect(pidsOfAttempt(running.attempts[0].id)).toEqual([]);
    const timedOut = await waitStatus(t.body.job.id, FINAL, 20_000);
    expect(timedOut).toMatchObject({ status: 'TIMED_OUT', reason: 'TIMED_OUT' });
    await eventually(async () => (pidsOfAttempt(timedOut.attempts[0].id).length === 0 ? true : undefined), 5000, 'timed-out processes gone');
    await a.stop();
  }, 60_000);
});
