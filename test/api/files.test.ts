// Files, inputs, outputs and checkpoints through the API on the local stack (s3rver), with nodes driven
// by hand: what a consumer may name as input, what a node may upload and what is listed, and whose
// checkpoint is restored. s3rver checks no signature, so each attack here is refused by gpupool's code.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, manualAgent, registerNode } from './helpers';

type Account = Awaited<ReturnType<Pool['newAccount']>>;
type Node = Awaited<ReturnType<typeof manualAgent>>;
let pool: Pool;
let alice: Account;
let bob: Account;
let node: Node;
let other: Node;

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const put = (url: string, body: Buffer | string) => fetch(url, { method: 'PUT', body });
const bytes = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

async function upload(who: Account, name: string, content: string): Promise<string> {
  const r = await who.api.post('/v1/files', { name, size: Buffer.byteLength(content), sha256: sha(content) });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.file).toMatchObject({ id: expect.any(String), name, size: Buffer.byteLength(content), sha256: sha(content) });
  expect((await put(r.body.uploadUrl, content)).status).toBe(200);
  return r.body.file.id;
}

const jobOf = async (who: Account, id: string) => (await who.api.get(`/v1/jobs/${id}`)).body.job;
/** submits a 1-GPU T4 job (only `node` has T4s) and starts its next attempt there; the start answer */
async function submitAndStart(who: Account, extra: Record<string, unknown> = {}) {
  const r = await who.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1, gpuModels: ['T4'] }, maxAttempts: 5, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const id = r.body.job.id as string;
  return { id, ...(await startNext(who, id, 0)) };
}
async function startNext(who: Account, id: string, n: number) {
  const attemptId = await eventually(async () => (await jobOf(who, id)).attempts[n]?.id as string | undefined, 15_000, 'placement');
  const s = await node.api.post(`/v1/agent/jobs/${id}/start`, { attemptId });
  expect(s.status, JSON.stringify(s.body)).toBe(200);
  return { attemptId, start: s.body };
}
const finish = (id: string, attemptId: string, outcome = 'exited', exitCode: number | null = 0) => node.api.post(`/v1/agent/jobs/${id}/finish`, { attemptId, exitCode, outcome });

beforeAll(async () => {
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  const p2 = await pool.newAccount('provider', 'provider2');
  [alice, bob] = await Promise.all([pool.newAccount('consumer', 'alice'), pool.newAccount('consumer', 'bob')]);
  const [n1, n2] = await Promise.all([registerNode(provider.api, 'files-n1', 'T4', 1), registerNode(p2.api, 'files-n2', 'L4', 1)]);
  [node, other] = await Promise.all([manualAgent(pool.stack.apiUrl, n1.key, 'boot-files-1'), manualAgent(pool.stack.apiUrl, n2.key, 'boot-files-2')]);
}, 120_000);

afterAll(async () => {
  node?.stop();
  other?.stop();
  await pool?.stop();
});

describe('inputs', () => {
  it('an uploaded file and a URL reach the start answer: a link to the owner\'s bytes, with size and sha256 to check', async () => {
    const id = await upload(alice, 'train.csv', 'a,b\n1,2\n');
    const { id: jobId, attemptId, start } = await submitAndStart(alice, {
      inputs: [
        { file: id, path: 'data/train.csv' },
        { url: 'http://127.0.0.1:9/weights.bin', path: 'weights.bin', sha256: sha('w') },
      ],
    });
    expect(start.files.inputs).toEqual([
      { path: 'data/train.csv', url: expect.any(String), size: 8, sha256: sha('a,b\n1,2\n') },
      { path: 'weights.bin', url: 'http://127.0.0.1:9/weights.bin', sha256: sha('w'), external: true },
    ]);
    expect((await bytes(start.files.inputs[0].url)).toString()).toBe('a,b\n1,2\n');
    expect((await finish(jobId, attemptId)).status).toBe(200);
  });

  it("another account's file id is refused as an input (consumer B naming consumer A's file)", async () => {
    const id = await upload(alice, 'secret.csv', 'private');
    const r = await bob.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, inputs: [{ file: id, path: 'x.csv' }] });
    expectProblem(r, 400);
    expect(JSON.stringify(r.body)).toContain(`no file ${id}`);
  });

  it('a file not uploaded yet, or uploaded at another length, is refused', async () => {
    const r = await alice.api.post('/v1/files', { name: 'later.bin', size: 4, sha256: sha('abcd') });
    const notYet = await alice.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, inputs: [{ file: r.body.file.id, path: 'x' }] });
    expectProblem(notYet, 400);
    expect(JSON.stringify(notYet.body)).toContain('not uploaded yet');
    // s3rver does not hold the PUT to its signed length (S3 would): the control plane does
    expect((await put(r.body.uploadUrl, 'abcdefgh')).status).toBe(200);
    const wrong = await alice.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, inputs: [{ file: r.body.file.id, path: 'x' }] });
    expectProblem(wrong, 400);
    expect(JSON.stringify(wrong.body)).toContain('holds 8 bytes');
  });

  it.each([
    ['a climbing path', [{ url: 'https://example.com/a', path: '../etc/passwd' }]],
    ['a climbing segment', [{ url: 'https://example.com/a', path: 'data/../../x' }]],
    ['an absolute path', [{ url: 'https://example.com/a', path: '/etc/passwd' }]],
    ['a duplicate path', [{ url: 'https://example.com/a', path: 'x' }, { url: 'https://example.com/b', path: 'x' }]],
    ['a path under another', [{ url: 'https://example.com/a', path: 'x' }, { url: 'https://example.com/b', path: 'x/y' }]],
    ['a private address', [{ url: 'http://10.0.0.1/a', path: 'x' }]],
    ['a file URL', [{ url: 'file:///etc/passwd', path: 'x' }]],
  ])('%s is a 400', async (_what, inputs) => {
    expectProblem(await alice.api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1 }, inputs }), 400);
  });

  it('POST /v1/files refuses a file above the size limit and a malformed sha256', async () => {
    expectProblem(await alice.api.post('/v1/files', { name: 'big', size: 5 * 1024 ** 3 + 1, sha256: sha('') }), 400);
    expectProblem(await alice.api.post('/v1/files', { name: 'x', size: 1, sha256: 'abc' }), 400);
  });
});

describe('outputs', () => {
  it('lists only what was granted and is in the store at the declared size; the owner only', async () => {
    const { id, attemptId } = await submitAndStart(alice);
    const files = [
      { path: 'model.bin', size: 5, sha256: sha('model') },
      { path: 'logs/train.txt', size: 4, sha256: sha('logs') },
      { path: 'half.bin', size: 10, sha256: sha('0123456789') },
    ];
    const g = await node.api.post(`/v1/agent/jobs/${id}/outputs`, { attemptId, files });
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    const url = (p: string) => g.body.uploads.find((u: { path: string }) => u.path === p).url as string;
    expect((await put(url('model.bin'), 'model')).status).toBe(200);
    expect((await put(url('logs/train.txt'), 'logs')).status).toBe(200);
    // cut short: fewer bytes than declared (S3 refuses it; s3rver stores it, so the listing must not trust it)
    expect((await put(url('half.bin'), '01234')).status).toBe(200);
    // a key never granted, under the attempt's prefix (s3rver ignores the signature, so the node can forge the path)
    const forged = new URL(url('model.bin'));
    forged.pathname = forged.pathname.replace('model.bin', 'extra.bin');
    expect((await put(forged.toString(), 'extra')).status).toBe(200);
    expect((await finish(id, attemptId)).status).toBe(200);

    const r = await alice.api.get(`/v1/jobs/${id}/outputs`);
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: { path: string }) => i.path).sort()).toEqual(['logs/train.txt', 'model.bin']);
    const model = r.body.items.find((i: { path: string }) => i.path === 'model.bin');
    expect(model).toMatchObject({ size: 5, sha256: sha('model') });
    expect((await bytes(model.url)).toString()).toBe('model');
    expectProblem(await bob.api.get(`/v1/jobs/${id}/outputs`), 404);
  });

  it("a lost attempt's uploads are not listed", async () => {
    const { id, attemptId } = await submitAndStart(alice);
    const g = await node.api.post(`/v1/agent/jobs/${id}/outputs`, { attemptId, files: [{ path: 'out.txt', size: 2, sha256: sha('ok') }] });
    expect((await put(g.body.uploads[0].url, 'ok')).status).toBe(200);
    expect((await finish(id, attemptId, 'lost', null)).status).toBe(200);
    expect((await alice.api.get(`/v1/jobs/${id}/outputs`)).body.items).toEqual([]);
    // the next attempt ends well without outputs: still nothing of the lost one's
    const next = await startNext(alice, id, 1);
    expect((await finish(id, next.attemptId)).status).toBe(200);
    expect((await alice.api.get(`/v1/jobs/${id}/outputs`)).body).toEqual({ attemptId: next.attemptId, items: [] });
  });

  it("a node cannot get grants for another node's attempt, nor for an attempt no longer live", async () => {
    const { id, attemptId } = await submitAndStart(alice);
    const files = [{ path: 'x', size: 1, sha256: sha('x') }];
    expectProblem(await other.api.post(`/v1/agent/jobs/${id}/outputs`, { attemptId, files }), 404);
    expect((await finish(id, attemptId)).status).toBe(200);
    expectProblem(await node.api.post(`/v1/agent/jobs/${id}/outputs`, { attemptId, files }), 409);
  });

  it('refuses climbing names, too many files and too many bytes', async () => {
    const { id, attemptId } = await submitAndStart(alice);
    const one = (path: string, size = 1) => ({ path, size, sha256: sha('x') });
    for (const files of [[one('../x')], [one('/etc/passwd')], [one('a/../../b')], Array.from({ length: 257 }, (_, i) => one(`f${i}`)), [one('a', 5 * 1024 ** 3 + 1)], [one('a'), one('a')]]) {
      expectProblem(await node.api.post(`/v1/agent/jobs/${id}/outputs`, { attemptId, files }), 400);
    }
    expect((await finish(id, attemptId)).status).toBe(200);
  });
});

describe('checkpoints', () => {
  const file = (path: string, content: string) => ({ path, size: Buffer.byteLength(content), sha256: sha(content) });

  async function save(id: string, attemptId: string, seq: number, contents: Record<string, string>) {
    const files = Object.entries(contents).map(([p, c]) => file(p, c));
    const g = await node.api.post(`/v1/agent/jobs/${id}/checkpoint`, { attemptId, seq, files });
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    for (const u of g.body.uploads) {
      const content = Object.values(contents).find((c) => sha(c) === u.sha256)!;
      expect((await put(u.url, content)).status).toBe(200);
    }
    return { grant: g.body, commit: await node.api.post(`/v1/agent/jobs/${id}/checkpoint`, { attemptId, seq, files, commit: true }) };
  }

  it("the next attempt gets the last complete checkpoint; unchanged contents are not sent again; another job's is never restored", async () => {
    const { id, attemptId, start } = await submitAndStart(alice, { checkpoint: { intervalSeconds: 10 } });
    expect(start.files.checkpoint).toEqual({ intervalSeconds: 10, restore: [] });
    const first = await save(id, attemptId, 1, { 'count.txt': '3', 'model/w.bin': 'weights' });
    expect(first.grant.uploads).toHaveLength(2);
    expect(first.commit.status).toBe(200);
    const second = await save(id, attemptId, 2, { 'count.txt': '7', 'model/w.bin': 'weights' });
    expect(second.grant.uploads.map((u: { sha256: string }) => u.sha256)).toEqual([sha('7')]);
    expect((await jobOf(alice, id)).lastCheckpoint).toMatchObject({ attemptId, attemptN: 0, seq: 2, files: 2, bytes: 8, at: expect.any(Number) });

    // the node loses the attempt: the job is placed again and its next attempt restores the count at 7
    expect((await finish(id, attemptId, 'lost', null)).status).toBe(200);
    const next = await startNext(alice, id, 1);
    const restore = next.start.files.checkpoint.restore as { path: string; url: string }[];
    expect(restore.map((f) => f.path).sort()).toEqual(['count.txt', 'model/w.bin']);
    expect((await bytes(restore.find((f) => f.path === 'count.txt')!.url)).toString()).toBe('7');
    expect(next.start.files.checkpoint.restoredSeq).toBe(2);
    // the job view tells the consumer which checkpoint the new attempt started from and the run it saved
    const resumed = await jobOf(alice, id);
    const lost = resumed.attempts[0];
    expect(resumed.attempts[1].resumedFrom).toEqual({
      attemptId,
      attemptN: 0,
      seq: 2,
      checkpointAt: resumed.lastCheckpoint.at,
      savedSeconds: Math.round((resumed.lastCheckpoint.at - lost.startedAt) / 1000),
    });
    expect(lost.resumedFrom).toBeUndefined();

    // the lost attempt, still running somewhere, may not replace the checkpoint of the one that took over
    expectProblem(await node.api.post(`/v1/agent/jobs/${id}/checkpoint`, { attemptId, seq: 3, files: [file('count.txt', '0')], commit: true }), 409);
    expect((await finish(id, next.attemptId)).status).toBe(200);

    // another job of the same account starts empty: nothing of the first job's checkpoint reaches it
    const fresh = await submitAndStart(alice, { checkpoint: { intervalSeconds: 10 } });
    expect(fresh.start.files.checkpoint.restore).toEqual([]);
    expect((await finish(fresh.id, fresh.attemptId)).status).toBe(200);
  });

  it('a commit naming contents not in the store is refused and changes nothing', async () => {
    const { id, attemptId } = await submitAndStart(alice, { checkpoint: { intervalSeconds: 10 } });
    const r = await node.api.post(`/v1/agent/jobs/${id}/checkpoint`, { attemptId, seq: 1, files: [file('a', 'never uploaded')], commit: true });
    expectProblem(r, 409);
    expect((await jobOf(alice, id)).lastCheckpoint).toBeUndefined();
    expect((await finish(id, attemptId)).status).toBe(200);
  });

  it('a job without checkpoint settings gets no checkpoint grants', async () => {
    const { id, attemptId } = await submitAndStart(alice);
    expectProblem(await node.api.post(`/v1/agent/jobs/${id}/checkpoint`, { attemptId, seq: 1, files: [] }), 400);
    expect((await finish(id, attemptId)).status).toBe(200);
  });
});
