// Stop and restart the whole local stack mid-run: the data persists under its data dir, running agents
// carry on (they retry their reports and open a new session when their queue keeps failing), and no
// job is lost.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatApiKey } from '../../functions/domain/api-key';
import { DEFAULT_DEADLINES } from '../../functions/domain/job/deadlines';
import { newKeyId, newSecret } from '../../functions/store/keys-store';
import { startAgent, type AgentProcess } from '../../lib/local/agent-process';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../lib/local/local-stack';
import { client, eventually } from '../helpers/api';

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-restart-'));
let stack: LocalStack | undefined;
const agents: AgentProcess[] = [];

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop('SIGKILL')));
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('restarting the local stack', () => {
  it('loses nothing when the whole stack stops and comes back mid-run', async () => {
    const adminKey = formatApiKey(newKeyId(), newSecret());
    const opts: LocalStackOptions = {
      port: 0,
      adminKey,
      dataDir: path.join(dir, 'data'),
      sweepMs: 250,
      reaperMs: 250,
      settings: { heartbeat: { busySeconds: 1, idleSeconds: 2 }, deadlines: { ...DEFAULT_DEADLINES, dispatchTimeoutMs: 4000 } },
    };
    stack = await startLocalStack(opts);
    const port = stack.port;
    const sqsPort = Number(new URL(stack.sqsEndpoint).port);
    const admin = client(stack.apiUrl, adminKey);
    const provider = (await admin.post('/v1/accounts', { name: 'p', role: 'provider' })).body;
    const consumer = (await admin.post('/v1/accounts', { name: 'c', role: 'consumer' })).body;
    expect((await admin.post(`/v1/accounts/${consumer.account.id}/credits`, { amount: 1_000_000_000_000 })).status).toBe(201);
    const api = client(stack.apiUrl, consumer.apiKey);
    for (const [i, gpus] of ['2xA100-80', '1xA100-80'].entries()) {
      agents.push(startAgent({ name: `restart-${i}`, gpus, apiUrl: stack.apiUrl, providerKey: provider.apiKey, stateDir: path.join(dir, `a${i}`), env: { GPUPOOL_DRAIN_SECONDS: '0' } }));
    }
    await eventually(async () => ((await stack!.deps.nodes.available(undefined, 10)).length === 2 ? true : undefined), 30_000, 'agents online');
    const file = path.join(dir, 'runs.log');
    writeFileSync(file, '');
    const cmd = ['sh', '-c', `echo "start $GPUPOOL_JOB_ID" >> ${file}; sleep 1.5; echo "end $GPUPOOL_JOB_ID" >> ${file}`];
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await api.post('/v1/jobs', { command: cmd, resources: { gpus: 1 }, maxAttempts: 5 })).body.job.id);

    // let some run, then stop everything but the agents, and come back on the same port and data
    await eventually(async () => (readFileSync(file, 'utf8').includes('end') ? true : undefined), 20_000, 'a first job to end');
    await stack.stop();
    stack = undefined;
    await new Promise((r) => setTimeout(r, 2000)); // downtime: agents' reports fail and are retried
    // as `npm start` does, the SQS server comes back on its port too (its queues do not: they are re-made)
    stack = await startLocalStack({ ...opts, port, sqsPort });
    expect(stack.port).toBe(port);

    const final = await eventually(async () => {
      const jobs = await Promise.all(ids.map((id) => stack!.deps.jobs.get(id)));
      return jobs.every((j) => j && FINAL.includes(j.status)) ? jobs : undefined;
    }, 90_000, 'all jobs to end after the restart');
    for (const j of final) expect(j!.status, JSON.stringify(j)).toBe('SUCCEEDED');
    // every job's command ran to its end exactly once... or more often only after a lost attempt
    const ends = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('end'));
    for (const id of ids) expect(ends.filter((l) => l === `end ${id}`).length).toBeGreaterThanOrEqual(1);
    for (const j of final) {
      const runs = ends.filter((l) => l === `end ${j!.id}`).length;
      expect(runs).toBeLessThanOrEqual(j!.attempts.length);
    }
    // the agents are still the same processes
    for (const a of agents) expect(a.proc.exitCode).toBeNull();
    // and no credit was lost or made across the restart: every hold settled, balances equal their entries
    const audit = (await client(stack.apiUrl, adminKey).get('/v1/ledger/audit')).body;
    expect(audit).toMatchObject({ ok: true, differences: [] });
    expect((await api.get('/v1/balance')).body.held).toBe(0);
  }, 150_000);
});
