// Issue 14 item 5, second half: "200 short jobs on 4 agents on a loaded machine once ran 3 of them twice".
// Every path that could run one job twice with no agent dying, at once: every dispatch message is sent
// twice, a kept message comes back after 1 s (queue visibility), one /start answer in five is lost after
// the control plane acted on it (the agent retries; the repeated start is answered like the first) and
// every /start answer is held back up to 1.2 s (slow starts on a loaded machine), with 1 s busy heartbeats
// that name unlisted attempts lost. Each job's command appends one line per run to a file, so runs are
// counted exactly: every job must complete exactly once, and a job runs again only after its agent killed
// an attempt that never completed (a lease that ran out on a loaded machine: at-least-once, by design).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEADLINES } from '../../functions/domain/job/deadlines';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { startReplyDropper, type ReplyDropper } from '../helpers/reply-dropper';

const JOBS = 120;
const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
let pool: Pool;
let proxy: ReplyDropper;

beforeAll(async () => {
  pool = await startPool({
    settings: {
      heartbeat: { busySeconds: 1, idleSeconds: 2 },
      deadlines: { ...DEFAULT_DEADLINES, dispatchTimeoutMs: 6000 },
    },
    reaperMs: 250,
    sweepMs: 250,
  });
  const d = pool.stack.deps;
  d.settings.queues.duplicateSends = true;
  d.settings.queues.visibilityTimeoutSeconds = 1;
  let seed = 11;
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  proxy = await startReplyDropper(pool.stack.apiUrl, (method, p) => method === 'POST' && /\/start$/.test(p) && random() < 0.2, {
    delayMs: (method, p) => (method === 'POST' && /\/start$/.test(p) ? Math.floor(random() * 1200) : 0),
  });
}, 90_000);
afterAll(async () => {
  if (pool) expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  await pool?.stop();
  await proxy?.close();
});

describe('no job runs twice', () => {
  it(`${JOBS} short jobs on 4 agents through duplicated dispatches, lost and slow start answers: each ran exactly once`, async () => {
    const provider = await pool.newAccount('provider');
    const consumer = await pool.newAccount('consumer');
    for (const [i, gpus] of ['2xA100-80', '1xA100-80', '2xA100-80', '1xA100-80'].entries()) {
      await pool.addAgent({ name: `dup-${i}`, gpus, providerKey: provider.key, apiUrl: proxy.url });
    }
    const file = path.join(pool.dir, 'runs.log');
    writeFileSync(file, '');
    const mark = (what: string) => `echo "$GPUPOOL_JOB_ID $GPUPOOL_ATTEMPT_ID ${what} $(date +%s%3N)" >> ${file}`;
    const cmd = ['sh', '-c', `${mark('start')}; sleep 0.2; ${mark('end')}`];
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => consumer.api.post('/v1/jobs', { command: cmd, resources: { gpus: 1 }, maxAttempts: 10 })));
      for (const r of batch) {
        expect(r.status).toBe(202);
        ids.push(r.body.job.id);
      }
    }
    const final = await eventually(async () => {
      const jobs = await Promise.all(ids.map((id) => pool.stack.deps.jobs.get(id)));
      return jobs.every((j) => j && FINAL.includes(j.status)) ? jobs : undefined;
    }, 400_000, `all ${JOBS} jobs to end`);
    for (const j of final) expect(j!.status, JSON.stringify(j)).toBe('SUCCEEDED');

    const runs = new Map<string, { attempt: string; what: string; at: number }[]>();
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [jobId, attempt, what, at] = line.split(' ');
      if (!at) continue;
      runs.set(jobId, [...(runs.get(jobId) ?? []), { attempt, what, at: Number(at) }]);
    }
    // A run is a start line; a run that completed has its end line. A job may be run again only after an
    // attempt that never completed was killed by its agent (a lease that ran out on this loaded machine:
    // at-least-once, by design); it must never complete twice, and no attempt may run twice.
    const completed = (r: { what: string }[]) => r.filter((x) => x.what === 'end').length;
    const twice = [...runs].filter(([, r]) => completed(r) !== 1 || new Set(r.filter((x) => x.what === 'start').map((x) => x.attempt)).size !== r.filter((x) => x.what === 'start').length);
    const rerun = [...runs].filter(([, r]) => r.filter((x) => x.what === 'start').length > 1);
    const lostStarts = proxy.dropped.length;
    const retried = final.filter((j) => j!.attempts.length > 1).length;
    const leaseLost = pool.logs.filter((l) => l.includes('lease expired without renewal')).length;
    console.log(`double-run stress: ${JOBS} jobs, ${lostStarts} start answers lost, ${leaseLost} lease expiries, ${retried} jobs placed more than once, ${rerun.length} run again after a killed attempt, ${twice.length} completed twice or ran one attempt twice`);
    for (const [jobId, r] of twice) {
      console.log('RAN TWICE', jobId, JSON.stringify(r), JSON.stringify(final.find((j) => j!.id === jobId)?.attempts));
      console.log(pool.logs.filter((l) => r.some((x) => l.includes(x.attempt))).join('\n'));
    }
    expect(runs.size).toBe(JOBS);
    expect(twice).toEqual([]);
    for (const j of final) {
      const r = runs.get(j!.id)!;
      // the run that completed is the job's final, successful attempt
      const ended = r.filter((x) => x.what === 'end');
      expect(ended.map((x) => x.attempt)).toEqual([j!.attempts.at(-1)!.id]);
      // every earlier run was killed before it completed, by its agent, and its attempt ended LOST
      for (const x of r.filter((y) => y.what === 'start' && y.attempt !== ended[0].attempt)) {
        expect(j!.attempts.find((a) => a.id === x.attempt)).toMatchObject({ status: 'LOST' });
        expect(pool.logs.some((l) => l.includes(x.attempt) && /lease_lost|written_off|taken out of service|fenced/.test(l))).toBe(true);
      }
    }
  }, 480_000);
});
