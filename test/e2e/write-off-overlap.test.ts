// Issue 14 item 5, measured: a node taken out of service (DELETE /v1/nodes/{id}, or a quarantine) while it
// runs a job. The job is placed again on another node at once, and the old copy must stop at once too
// (the 'stop' control message, a 409 on heartbeat or session), not when the node's lease runs out (here
// 4 busy periods of 5 s, ~17 s: before the fix the old copy ran on for 53 s). Each attempt appends
// "<attempt> <ms>" to a file every 50 ms, so the overlap is read off the ticks: the last tick of the old
// attempt minus the first tick of the new one (0 when the old one stopped first).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quarantineNode } from '../../functions/usecases/checker';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { pidsOfAttempt } from '../helpers/procs';

/** well below the lease the old node still holds (≥ 15 s): fails if the old copy waits for it */
const STOP_BOUND_MS = 4_000;
let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;

beforeAll(async () => {
  // the local stack's own periods: busy 5 s, idle 15 s, so the lease is long enough to see
  pool = await startPool();
  provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
}, 60_000);
afterAll(async () => pool?.stop());

const jobOf = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}`)).body.job;

function ticks(file: string): Map<string, number[]> {
  const by = new Map<string, number[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [attempt, at] = line.split(' ');
    if (!at) continue;
    by.set(attempt, [...(by.get(attempt) ?? []), Number(at)]);
  }
  return by;
}

async function measure(name: string, takeOut: (nodeId: string) => Promise<void>) {
  const a = await pool.addAgent({ name: `${name}-a`, gpus: '1xH100-80', providerKey: provider.key });
  // dearer: the job goes to A first
  const b = await pool.addAgent({ name: `${name}-b`, gpus: '1xH100-80', providerKey: provider.key, price: 9_000_000 });
  try {
    return await measureOn(name, a, b, takeOut);
  } finally {
    // a failed run must not leave B to take the next run's job
    await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
  }
}

async function measureOn(name: string, a: Awaited<ReturnType<Pool['addAgent']>>, b: Awaited<ReturnType<Pool['addAgent']>>, takeOut: (nodeId: string) => Promise<void>) {
  const file = path.join(pool.dir, `${name}.ticks`);
  writeFileSync(file, '');
  // ~8 s of ticks, then it ends on its own
  const cmd = ['sh', '-c', `for i in $(seq 1 160); do echo "$GPUPOOL_ATTEMPT_ID $(date +%s%3N)" >> ${file}; sleep 0.05; done`];
  const submitted = await consumer.api.post('/v1/jobs', { command: cmd, resources: { gpus: 1, gpuModels: ['H100'] }, maxAttempts: 5 });
  expect(submitted.status).toBe(202);
  const first = await eventually(async () => {
    const j = await jobOf(submitted.body.job.id);
    return j.status === 'RUNNING' && ticks(file).size > 0 ? j : undefined;
  }, 30_000, 'the job ticking on A');
  expect(first.nodeId).toBe(a.nodeId);
  const oldAttempt = first.attempts[0].id as string;

  const outAt = Date.now();
  await takeOut(a.nodeId);
  const moved = await eventually(async () => {
    const j = await jobOf(first.id);
    return j.nodeId === b.nodeId && ticks(file).get(j.attempts.at(-1).id)?.length ? j : undefined;
  }, 20_000, 'the job ticking on B').catch(async (e) => {
    console.log('job', JSON.stringify(await jobOf(first.id)), 'logs', pool.logs.slice(-40).join('\n'));
    throw e;
  });
  const replacedMs = Date.now() - outAt;
  // the old copy's processes are gone within the bound
  await eventually(async () => (pidsOfAttempt(oldAttempt).length === 0 ? true : undefined), STOP_BOUND_MS, `A's processes gone within ${STOP_BOUND_MS} ms`);
  const goneMs = Date.now() - outAt;
  const done = await eventually(async () => {
    const j = await jobOf(first.id);
    return ['SUCCEEDED', 'FAILED'].includes(j.status) ? j : undefined;
  }, 30_000, 'the job to end');
  expect(done.status).toBe('SUCCEEDED');
  expect(done.attempts).toHaveLength(2);

  const t = ticks(file);
  const old = t.get(oldAttempt)!;
  const fresh = t.get(moved.attempts.at(-1).id)!;
  // the old attempt's ticks ended (nothing after its processes were seen gone), the new one ran to its end
  expect(Math.max(...old)).toBeLessThan(outAt + goneMs);
  const overlapMs = Math.max(0, Math.max(...old) - Math.min(...fresh));
  console.log(
    `write-off overlap (${name}): old copy's last tick ${Math.max(...old) - outAt} ms after the take-out, its processes gone after ${goneMs} ms; ` +
      `new copy's first tick after ${Math.min(...fresh) - outAt} ms (job re-placed, seen after ${replacedMs} ms); overlap ${overlapMs} ms`,
  );
  // how A heard of it: the stop message, or a 409 on its next heartbeat
  const heard = pool.logs.filter((l) => l.startsWith(`[${name}-a]`) && /control plane says stop|out of service|lease expired|heartbeat failing/.test(l));
  console.log(`write-off overlap (${name}): A heard: ${heard.map((l) => l.slice(0, 200)).join(' | ')}`);
  expect(Math.max(...old) - outAt).toBeLessThan(STOP_BOUND_MS);
  expect(fresh.length).toBe(160);
  return overlapMs;
}

describe('a node taken out of service stops its job at once', () => {
  it('DELETE /v1/nodes/{id}: the old copy stops well before the lease ends', async () => {
    await measure('delete', async (nodeId) => {
      expect((await provider.api.del(`/v1/nodes/${nodeId}`)).status).toBe(200);
    });
  }, 120_000);

  it('quarantine: the old copy stops well before the lease ends', async () => {
    await measure('quarantine', async (nodeId) => {
      expect(await quarantineNode(pool.stack.deps, nodeId, 'canary printed 1, expected 2 (test evidence)')).toBe(true);
    });
  }, 120_000);
});
