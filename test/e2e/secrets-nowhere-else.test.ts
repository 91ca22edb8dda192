// Issue 16's "nowhere else" rule, end to end on the local stack with a real agent (process runtime): a job
// gets its secret in its environment (it proves so by printing the value's hash, and prints the value
// itself, which its logs show as ***); then every item of every table, every message sent to SQS, every
// file in the agent's state directory (read while the job runs and after) and every log line of the agent
// and the stack are searched for the value: none may hold it.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotTables } from '../api/helpers';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let stateDir: string;
const VALUE = `hf_${randomBytes(12).toString('hex')}`;
const sent: string[] = [];

/** every file under `dir` (the job's scratch dir included), as text */
function filesUnder(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (d: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      try {
        if (statSync(p).isDirectory()) walk(p);
        else out.push({ file: p, text: readFileSync(p, 'latin1') });
      } catch {
        /* removed while we looked */
      }
    }
  };
  walk(dir);
  return out;
}

beforeAll(async () => {
  pool = await startPool();
  // what the control plane sends to the SQS server, whatever the sender
  const sqs = (pool.stack.deps.queues as unknown as { sqs: { send: (c: { input?: unknown }) => Promise<unknown> } }).sqs;
  const send = sqs.send.bind(sqs);
  sqs.send = (c) => (sent.push(JSON.stringify(c.input ?? {})), send(c));
  const provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  const agent = await pool.addAgent({ name: 'sec-e2e', gpus: '1xA100-80', providerKey: provider.key });
  stateDir = path.join(pool.dir, 'sec-e2e');
  void agent;
}, 90_000);

afterAll(async () => {
  await pool?.stop();
});

describe('a secret reaches the job and nothing else', () => {
  it('the job has it, its logs show ***, and no table, queue message, agent file or log line holds it', async () => {
    expect((await consumer.api.post('/v1/secrets', { name: 'hf', value: VALUE })).status).toBe(201);
    const r = await consumer.api.post('/v1/jobs', {
      command: ['sh', '-c', 'printf %s "$HF_TOKEN" | sha256sum; echo "token=$HF_TOKEN"; echo "$HF_TOKEN" >&2; sleep 1.5; echo done'],
      env: { HF_TOKEN: { secret: 'hf' }, PLAIN: 'visible' },
      resources: { gpus: 1 },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const id = r.body.job.id as string;
    // while it runs: the agent's state files
    await eventually(async () => ((await consumer.api.get(`/v1/jobs/${id}`)).body.job.status === 'RUNNING' ? true : undefined), 20_000, 'running');
    const during = filesUnder(stateDir);
    const job = await eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
      return ['SUCCEEDED', 'FAILED'].includes(j.status) ? j : undefined;
    }, 30_000, 'job end');
    expect(job.status).toBe('SUCCEEDED');
    const lines = (await consumer.api.get(`/v1/jobs/${id}/logs`)).body.items as { stream: string; text: string }[];
    const texts = lines.map((l) => `${l.stream}:${l.text}`);
    expect(texts).toContain(`stdout:${createHash('sha256').update(VALUE).digest('hex')}  -`);
    expect(texts).toContain('stdout:token=***');
    expect(texts).toContain('stderr:***');
    expect(texts).toContain('stdout:done');

    const hits: string[] = [];
    const look = (where: string, text: string) => text.includes(VALUE) && hits.push(where);
    for (const [table, items] of Object.entries(await snapshotTables(pool.stack))) look(`table ${table}`, items);
    expect(sent.length).toBeGreaterThan(0);
    for (const m of sent) look('an SQS message', m);
    for (const f of [...during, ...filesUnder(stateDir)]) look(`file ${f.file}`, f.text);
    expect(during.length).toBeGreaterThan(0);
    for (const l of pool.logs) look('a log line', l);
    look('the job view', JSON.stringify(job));
    look('the job list', JSON.stringify((await consumer.api.get('/v1/jobs')).body));
    look('the secrets list', JSON.stringify((await consumer.api.get('/v1/secrets')).body));
    look('the job logs', JSON.stringify(lines));
    expect(hits).toEqual([]);
    expect(pool.logs.length).toBeGreaterThan(0);
  });
});
