// A consumer's uploaded files on the local stack (DynamoDB Local, s3rver): GET /v1/files pages the
// caller's own, GET /v1/files/{id} shows one with a download link, DELETE removes the bytes and the
// record. Another account's id is a 404 like a missing one; a file a waiting job names cannot be deleted
// from under it, not even by a delete racing the submit that names it.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, problemOf } from './helpers';

type Account = Awaited<ReturnType<Pool['newAccount']>>;
let pool: Pool;
let alice: Account;
let bob: Account;

const sha = (b: string) => createHash('sha256').update(b).digest('hex');
/** no node has B200s: a job naming it waits in the queue */
const WAITING = { command: ['true'], resources: { gpus: 1, gpuModels: ['B200'] } };

async function upload(who: Account, name: string, content: string): Promise<string> {
  const r = await who.api.post('/v1/files', { name, size: Buffer.byteLength(content), sha256: sha(content) });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect((await fetch(r.body.uploadUrl, { method: 'PUT', body: content })).status).toBe(200);
  return r.body.file.id;
}

beforeAll(async () => {
  pool = await startPool();
  [alice, bob] = await Promise.all([pool.newAccount('consumer', 'alice'), pool.newAccount('consumer', 'bob')]);
}, 120_000);

afterAll(async () => {
  await pool?.stop();
});

describe('files: list, show, delete', () => {
  it("lists the caller's own files newest first, page by page", async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await upload(alice, `f${i}.txt`, `content ${i}`));
    const bobs = await upload(bob, 'bob.txt', 'bob');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: any } = await alice.api.get(`/v1/files?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.items.map((f: { id: string }) => f.id));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(seen.slice(0, 5)).toEqual([...ids].reverse());
    expect(seen).not.toContain(bobs);
    const first = (await alice.api.get('/v1/files?limit=1')).body.items[0];
    expect(first).toEqual({ id: ids[4], name: 'f4.txt', size: 9, sha256: sha('content 4'), createdAt: expect.any(Number), expiresAt: expect.any(Number) });
    // thirty days by default, like the bucket's lifecycle rule
    expect(Math.round((first.expiresAt - first.createdAt) / 86_400_000)).toBe(30);
    // a cursor of bob's listing is not a way into alice's
    const bobCursor = (await bob.api.get('/v1/files?limit=1')).body.nextCursor;
    if (bobCursor) expectProblem(await alice.api.get(`/v1/files?cursor=${bobCursor}`), 400);
    expectProblem(await alice.api.get(`/v1/files?cursor=${Buffer.from(JSON.stringify({ accountId: bob.id, id: 'z' })).toString('base64url')}`), 400);
  });

  it('shows one file with a download link once its bytes are uploaded', async () => {
    const created = await alice.api.post('/v1/files', { name: 'later.bin', size: 3, sha256: sha('abc') });
    const id = created.body.file.id;
    expect((await alice.api.get(`/v1/files/${id}`)).body.file).toMatchObject({ id, name: 'later.bin', size: 3, uploaded: false, downloadUrl: null });
    expect((await fetch(created.body.uploadUrl, { method: 'PUT', body: 'abc' })).status).toBe(200);
    const shown = (await alice.api.get(`/v1/files/${id}`)).body.file;
    expect(shown).toMatchObject({ uploaded: true, downloadUrl: expect.any(String) });
    expect(await (await fetch(shown.downloadUrl)).text()).toBe('abc');
  });

  it("another account's file is a 404 like a missing one, to show and to delete; nothing of it changes", async () => {
    const id = await upload(alice, 'secret-plans.txt', 'plans');
    const missing = '01jzzzzzzzzzzzzzzzzzzzzzzz';
    for (const method of ['GET', 'DELETE'] as const) {
      const theirs = await bob.api.call(method, `/v1/files/${id}`);
      expectProblem(theirs, 404);
      expect(problemOf(theirs)).toEqual(problemOf(await bob.api.call(method, `/v1/files/${missing}`)));
    }
    // nor can bob name it in a job
    expectProblem(await bob.api.post('/v1/jobs', { ...WAITING, inputs: [{ file: id, path: 'x' }] }), 400);
    const still = (await alice.api.get(`/v1/files/${id}`)).body.file;
    expect(still).toMatchObject({ id, uploaded: true });
    expect(await (await fetch(still.downloadUrl)).text()).toBe('plans');
  });

  it('a delete removes the bytes and the record: no listing, no download, no job can name it', async () => {
    const id = await upload(alice, 'gone.txt', 'gone');
    const url = (await alice.api.get(`/v1/files/${id}`)).body.file.downloadUrl;
    expect((await alice.api.del(`/v1/files/${id}`)).status).toBe(204);
    expectProblem(await alice.api.get(`/v1/files/${id}`), 404);
    expectProblem(await alice.api.del(`/v1/files/${id}`), 404);
    expect((await alice.api.get('/v1/files?limit=100')).body.items.map((f: { id: string }) => f.id)).not.toContain(id);
    expect((await fetch(url)).status).toBe(404); // the object is gone from the store, not only hidden
    const r = await alice.api.post('/v1/jobs', { ...WAITING, inputs: [{ file: id, path: 'x' }] });
    expectProblem(r, 400);
    expect(JSON.stringify(r.body)).toContain(`no file ${id}`);
  });

  it('a file a waiting job names is refused (409 naming the job) until the job has ended', async () => {
    const id = await upload(alice, 'train.csv', 'a,b\n');
    const job = await alice.api.post('/v1/jobs', { ...WAITING, inputs: [{ file: id, path: 'data/train.csv' }] });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const jobId = job.body.job.id;
    const refused = await alice.api.del(`/v1/files/${id}`);
    expectProblem(refused, 409);
    expect(refused.body.detail).toContain(`job ${jobId}, which is QUEUED`);
    expect((await alice.api.get(`/v1/files/${id}`)).body.file.uploaded).toBe(true);
    // an array naming it holds it too, while any member has not ended
    const arr = await alice.api.post('/v1/jobs', { ...WAITING, array: { size: 3 }, inputs: [{ file: id, path: 'in' }] });
    expect(arr.status, JSON.stringify(arr.body)).toBe(202);
    expect((await alice.api.del(`/v1/jobs/${jobId}`)).status).toBe(202);
    const byArray = await alice.api.del(`/v1/files/${id}`);
    expectProblem(byArray, 409);
    expect(byArray.body.detail).toContain(`job ${arr.body.array.id}-0`);
    expect((await alice.api.del(`/v1/jobs/${arr.body.array.id}`)).status).toBe(202);
    // and a replicated job, while any replica has not ended
    const rep = await alice.api.post('/v1/jobs', { ...WAITING, verification: { replicas: 2 }, inputs: [{ file: id, path: 'in' }] });
    expect(rep.status, JSON.stringify(rep.body)).toBe(202);
    const byReplicas = await alice.api.del(`/v1/files/${id}`);
    expectProblem(byReplicas, 409);
    expect(byReplicas.body.detail).toContain(`job ${rep.body.job.id}`);
    expect((await alice.api.del(`/v1/jobs/${rep.body.job.id}`)).status).toBe(202);
    expect((await alice.api.del(`/v1/files/${id}`)).status).toBe(204);
  });

  it('a submit caught between its claim and its job write holds the file; a claim no job came of lapses', async () => {
    const id = await upload(alice, 'inflight.txt', 'i');
    const items = pool.stack.deps.fileItems!;
    // what a submit has done when it has claimed the file and not yet written its job
    expect(await items.claim(alice.id, id, 'submit-in-flight', Date.now())).toBe(true);
    const r = await alice.api.del(`/v1/files/${id}`);
    expectProblem(r, 409);
    expect(r.body.detail).toContain('being submitted');
    // a claim older than any request may run, with no job behind it: the submit failed; it holds nothing
    expect(await items.claim(alice.id, id, 'submit-in-flight', Date.now() - 61_000)).toBe(true);
    expect((await alice.api.del(`/v1/files/${id}`)).status).toBe(204);
    // and once marked for deletion, no claim succeeds
    expect(await items.claim(alice.id, id, 'late', Date.now())).toBe(false);
  });

  it('a submit refused after it claimed the file (priority above the cap) does not hold it', async () => {
    const id = await upload(alice, 'refused.txt', 'r');
    const r = await alice.api.post('/v1/jobs', { ...WAITING, priority: 1_000_000, inputs: [{ file: id, path: 'x' }] });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect((await alice.api.del(`/v1/files/${id}`)).status).toBe(204);
  });

  it('a delete racing a submit that names the file: the job is refused, or the file stays; never a job without its file', async () => {
    const outcomes = { jobKept: 0, fileDeleted: 0 };
    const ROUNDS = 24;
    for (let round = 0; round < ROUNDS; round++) {
      const id = await upload(alice, `race-${round}.txt`, `race ${round}`);
      const submit = () => alice.api.post('/v1/jobs', { ...WAITING, inputs: [{ file: id, path: 'x' }] });
      // a submit reads the file back from the store before it claims it: the delete starts 0 to 35 ms
      // later, so some rounds land it before the claim, some between the claim and the job's write, some after
      const del = () => new Promise((r) => setTimeout(r, (round % 8) * 5)).then(() => alice.api.del(`/v1/files/${id}`));
      const [s, d] = await Promise.all([submit(), del()]);
      const file = await alice.api.get(`/v1/files/${id}`);
      if (s.status === 202) {
        expect(d.status, `round ${round}: the submit was accepted, so the delete must be refused: ${JSON.stringify(d.body)}`).toBe(409);
        expect(file.status).toBe(200);
        expect(file.body.file.uploaded).toBe(true);
        outcomes.jobKept++;
        expect((await alice.api.del(`/v1/jobs/${s.body.job.id}`)).status).toBe(202);
      } else {
        expectProblem(s, 400);
        expect(d.status).toBe(204);
        expect(file.status).toBe(404);
        outcomes.fileDeleted++;
      }
    }
    console.log(`delete vs submit race: ${JSON.stringify(outcomes)}`);
    expect(outcomes.jobKept + outcomes.fileDeleted).toBe(ROUNDS);
  }, 120_000);
});
