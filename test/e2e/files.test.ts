// Inputs, outputs and checkpoints end to end on the local stack: real agent processes (process runtime),
// s3rver behind presigned URLs. A job reads its inputs, writes outputs (and symlinks that must not leave
// the node), a bad input fails the job with a typed reason, and a job killed with its agent (kill -9)
// continues from its last checkpoint on another node.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

type Account = Awaited<ReturnType<Pool['newAccount']>>;
let pool: Pool;
let provider: Account;
let consumer: Account;
let web: Server;
let webUrl: string;
const WEIGHTS = 'weights v1\n';

const sha = (b: string) => createHash('sha256').update(b).digest('hex');
const bytes = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer()).toString();
const jobOf = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
const ended = (id: string, ms = 60_000) =>
  eventually(async () => {
    const j = await jobOf(id);
    return ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'].includes(j.status) ? j : undefined;
  }, ms, `job ${id} to end`);
/** every log line of the job, page by page */
async function logText(id: string): Promise<{ text: string; attempt: number }[]> {
  const all: { text: string; attempt: number }[] = [];
  for (let after = -1; ; ) {
    const r = (await consumer.api.get(`/v1/jobs/${id}/logs?limit=1000&after=${after}`)).body;
    all.push(...r.items);
    if (r.items.length < 1000) return all;
    after = r.items[r.items.length - 1].seq;
  }
}

beforeAll(async () => {
  pool = await startPool();
  provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
  web = createServer((req, res) => (req.url === '/weights.bin' ? res.end(WEIGHTS) : res.writeHead(404).end()));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  web?.close();
  await pool?.stop();
});

describe('files end to end (process runtime)', () => {
  it('inputs are in place before the command starts; outputs come back, symlinks never leave the node', async () => {
    await pool.addAgent({ name: 'files-io', gpus: '1xT4-16', providerKey: provider.key });
    const csv = 'a,b\n1,2\n';
    const f = await consumer.api.post('/v1/files', { name: 'train.csv', size: csv.length, sha256: sha(csv) });
    expect((await fetch(f.body.uploadUrl, { method: 'PUT', body: csv })).status).toBe(200);
    const script = [
      'set -e',
      'cat "$GPUPOOL_INPUT_DIR/data/train.csv" "$GPUPOOL_INPUT_DIR/weights.bin" > "$GPUPOOL_OUTPUT_DIR/copy.txt"',
      'mkdir "$GPUPOOL_OUTPUT_DIR/sub" && echo hi > "$GPUPOOL_OUTPUT_DIR/sub/hi.txt"',
      // a job pointing outputs at files of the host or of the agent: not uploaded
      'ln -s /etc/passwd "$GPUPOOL_OUTPUT_DIR/passwd"',
      'ln -s "$GPUPOOL_NODE_STATE" "$GPUPOOL_OUTPUT_DIR/agent-state"',
    ].join('\n');
    const r = await consumer.api.post('/v1/jobs', {
      command: ['sh', '-c', script],
      resources: { gpus: 1, gpuModels: ['T4'] },
      inputs: [
        { file: f.body.file.id, path: 'data/train.csv' },
        { url: `${webUrl}/weights.bin`, path: 'weights.bin', sha256: sha(WEIGHTS) },
      ],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const job = await ended(r.body.job.id);
    expect(job.status, JSON.stringify(await logText(job.id))).toBe('SUCCEEDED');
    const out = (await consumer.api.get(`/v1/jobs/${job.id}/outputs`)).body.items as { path: string; size: number; url: string }[];
    expect(out.map((o) => o.path).sort()).toEqual(['copy.txt', 'sub/hi.txt']);
    expect(await bytes(out.find((o) => o.path === 'copy.txt')!.url)).toBe(csv + WEIGHTS);
    expect((await logText(job.id)).map((l) => l.text).join('\n')).toMatch(/outputs leave out agent-state \(symlink\), passwd \(symlink\)/);
  }, 90_000);

  it('an input whose sha256 does not match fails the job with INPUT_FAILED before the command runs', async () => {
    const r = await consumer.api.post('/v1/jobs', {
      command: ['sh', '-c', 'echo ran'],
      resources: { gpus: 1, gpuModels: ['T4'] },
      inputs: [{ url: `${webUrl}/weights.bin`, path: 'w.bin', sha256: sha('something else') }],
    });
    const job = await ended(r.body.job.id);
    expect(job).toMatchObject({ status: 'FAILED', reason: 'INPUT_FAILED' });
    const text = (await logText(job.id)).map((l) => l.text);
    expect(text.join('\n')).toMatch(/INPUT_FAILED: w\.bin: sha256 [0-9a-f]{64}, not the expected/);
    expect(text).not.toContain('ran');
  }, 60_000);

  it('a job whose agent is killed with kill -9 continues its count from the last checkpoint on another node', async () => {
    const a = await pool.addAgent({ name: 'ckpt-a', gpus: '1xL4-24', providerKey: provider.key });
    const b = await pool.addAgent({ name: 'ckpt-b', gpus: '1xL4-24', providerKey: provider.key, price: 9_000_000 });
    const counter = [
      'f="$GPUPOOL_CHECKPOINT_DIR/count"',
      'n=$(cat "$f" 2>/dev/null || echo 0)',
      'echo "start at $n"',
      'while true; do n=$((n+1)); echo $n > "$f.tmp" && mv "$f.tmp" "$f"; echo "count $n"; sleep 0.2; done',
    ].join('\n');
    const r = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', counter], resources: { gpus: 1, gpuModels: ['L4'] }, maxAttempts: 3, checkpoint: { intervalSeconds: 10 } });
    const id = r.body.job.id as string;
    const saved = await eventually(async () => (await jobOf(id)).lastCheckpoint, 60_000, 'a checkpoint');
    expect(saved).toMatchObject({ attemptN: 0, files: 1 });
    expect((await jobOf(id)).nodeId).toBe(a.nodeId);
    a.proc.kill('SIGKILL');
    const moved = await eventually(async () => {
      const j = await jobOf(id);
      return j.status === 'RUNNING' && j.attempts.length === 2 && j.nodeId === b.nodeId ? j : undefined;
    }, 90_000, 'the job RUNNING on b');
    expect(moved.attempts[0].status).toBe('LOST');
    // the consumer is told what the checkpoint saved: the lost attempt's run up to the save it resumes from
    const from = moved.attempts[1].resumedFrom;
    expect(from).toMatchObject({ attemptId: moved.attempts[0].id, attemptN: 0, seq: expect.any(Number) });
    const ranFrom = moved.attempts[0].startedAt + (moved.attempts[0].pullSeconds ?? 0) * 1000;
    expect(from.savedSeconds).toBe(Math.round((from.checkpointAt - ranFrom) / 1000));
    expect(from.savedSeconds).toBeGreaterThanOrEqual(9); // the first periodic save comes after 10 s
    const resumed = await eventually(async () => (await logText(id)).find((l) => l.attempt === 1 && l.text.startsWith('start at')), 60_000, 'the second attempt to start').catch(async (e) => {
      const j = await jobOf(id);
      throw new Error(`${(e as Error).message}: ${JSON.stringify({ status: j.status, attempts: j.attempts, logs: (await logText(id)).filter((l) => l.attempt > 0 || !l.text.startsWith('count')).slice(-20) })}`);
    });
    // it starts where the checkpoint left off, not at zero
    expect(Number(resumed.text.split(' ')[2])).toBeGreaterThan(0);
    expect((await logText(id)).some((l) => l.attempt === 1 && /restored checkpoint/.test(l.text))).toBe(true);
    expect((await consumer.api.del(`/v1/jobs/${id}`)).status).toBe(202);
  }, 240_000);
});
