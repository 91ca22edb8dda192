// Issue 14 item 3: the answer to an agent's /start is lost on the way back (gateway timeout, cut
// connection). The control plane has the attempt RUNNING; the agent, having heard nothing, keeps the
// dispatch for a retry. Before the fix the retry got 409 and was dropped, and the job stayed RUNNING with
// nothing running until maxDurationSeconds + 30 s, the consumer paying the whole hold. Now the next
// heartbeat, which does not list the attempt, ends it LOST and the job is placed again at once; a repeated
// start of the same attempt by the same node is answered like the first.
// DynamoDB Local, the local SQS server, real HTTP and a real agent process behind a reply-dropping proxy.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEADLINES } from '../../functions/domain/job/deadlines';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { startReplyDropper, type ReplyDropper } from '../helpers/reply-dropper';

// busy heartbeat 1 s; a long dispatch timeout and queue visibility, so only the heartbeat can save the job
const SETTINGS = {
  heartbeat: { busySeconds: 1, idleSeconds: 2 },
  deadlines: { ...DEFAULT_DEADLINES, dispatchTimeoutMs: 60_000 },
};

let pool: Pool;
let proxy: ReplyDropper;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
/** how many of the next /start answers are lost */
let toDrop = 0;

beforeAll(async () => {
  pool = await startPool({ settings: SETTINGS, reaperMs: 250, sweepMs: 500 });
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  proxy = await startReplyDropper(pool.stack.apiUrl, (method, p) => method === 'POST' && /^\/v1\/agent\/jobs\/[^/]+\/start$/.test(p) && toDrop-- > 0);
  await pool.addAgent({ name: 'lossy', gpus: '1xL4-24', providerKey: provider.key, apiUrl: proxy.url });
}, 90_000);
afterAll(async () => {
  if (pool) expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  await pool?.stop();
  await proxy?.close();
});

describe('a lost /start reply', () => {
  it('does not strand the job: the next heartbeat ends the attempt LOST and the job runs again at once', async () => {
    const file = path.join(pool.dir, 'runs.log');
    writeFileSync(file, '');
    // a long limit: before the fix the job would wait out 10 minutes + 30 s
    const cmd = ['sh', '-c', `echo "start $GPUPOOL_ATTEMPT_ID" >> ${file}; sleep 1; echo "end $GPUPOOL_ATTEMPT_ID" >> ${file}`];
    toDrop = 1;
    const submitted = Date.now();
    const r = await consumer.api.post('/v1/jobs', { command: cmd, resources: { gpus: 1 }, maxDurationSeconds: 600 });
    expect([201, 202]).toContain(r.status);
    const id = r.body.job.id as string;
    const done = await eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
      return j.status === 'SUCCEEDED' || j.status === 'FAILED' ? j : undefined;
    }, 30_000, 'the job to end');
    const took = Date.now() - submitted;
    console.log(`lost /start reply: job ended ${done.status} ${took} ms after submit (${done.attempts.length} attempts)`);
    expect(done.status).toBe('SUCCEEDED');
    // the attempt whose answer was lost either ran (its repeat start answered 200) or was ended LOST and
    // never ran; in both cases exactly one copy ran
    const runs = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
    expect(runs.filter((l) => l.startsWith('start'))).toHaveLength(1);
    expect(runs).toHaveLength(2);
    expect(proxy.dropped).toHaveLength(1);
    expect(took).toBeLessThan(20_000);
  }, 60_000);
});
