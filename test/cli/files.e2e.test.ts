// `gpupool run --input/--output` and `gpupool outputs` against the local stack with one real agent: the CLI
// in process (main with the real fetch), files through s3rver's presigned URLs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../bin/cli/io';
import { main } from '../../bin/cli/main';
import { startPool, type Pool } from '../helpers/local-pool';
import { harness } from './fake-io';
import { client } from '../helpers/api';
import { createHash } from 'node:crypto';

let pool: Pool;
let key: string;
let dir: string;

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: new PassThrough() as unknown as Io['stdin'],
    env: { HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config'), GPUPOOL_API_URL: pool.stack.apiUrl, GPUPOOL_API_KEY: key, NO_COLOR: '1' },
    now: Date.now,
    fetch: globalThis.fetch,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gpupool-cli-files-'));
  pool = await startPool();
  const provider = await pool.newAccount('provider');
  key = (await pool.newAccount('consumer')).key;
  await pool.addAgent({ name: 'cli-files', gpus: '1xT4-16', providerKey: provider.key });
}, 120_000);

afterAll(async () => {
  await pool?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('gpupool run --input/--output, gpupool outputs', () => {
  it('uploads a directory, runs, and downloads what the job wrote; `outputs --to` fetches it again', async () => {
    const data = path.join(dir, 'data');
    mkdirSync(path.join(data, 'sub'), { recursive: true });
    writeFileSync(path.join(data, 'a.txt'), 'alpha\n');
    writeFileSync(path.join(data, 'sub', 'b.txt'), 'beta\n');
    const results = path.join(dir, 'results');
    const r = await cli(['run', '--input', `${data}:data/`, '--output', results, '--poll-interval', '100', '--', 'sh', '-c', 'cat "$GPUPOOL_INPUT_DIR/data/a.txt" "$GPUPOOL_INPUT_DIR/data/sub/b.txt" > "$GPUPOOL_OUTPUT_DIR/joined.txt"']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Uploaded 2 input file\(s\)/);
    expect(readFileSync(path.join(results, 'joined.txt'), 'utf8')).toBe('alpha\nbeta\n');

    const jobId = JSON.parse((await cli(['jobs', 'ls', '--json'])).stdout).items[0].id as string;
    const listed = await cli(['outputs', jobId]);
    expect(listed.stdout).toMatch(/joined\.txt\s+11/);
    const again = path.join(dir, 'again');
    expect((await cli(['outputs', jobId, '--to', again])).code).toBe(0);
    expect(readFileSync(path.join(again, 'joined.txt'), 'utf8')).toBe('alpha\nbeta\n');
  }, 120_000);
});

describe('gpupool files ls | get | rm', () => {
  it('lists the uploads, shows one, deletes it; a file a waiting job names is refused with the job named', async () => {
    const api = client(pool.stack.apiUrl, key);
    const body = 'kept\n';
    const created = await api.post('/v1/files', { name: 'kept.txt', size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect((await fetch(created.body.uploadUrl, { method: 'PUT', body })).status).toBe(200);
    const id = created.body.file.id as string;
    const ls = await cli(['files', 'ls']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`${id}\\s+kept\\.txt\\s+5`));
    expect((await cli(['files', 'get', id])).stdout).toMatch(/Uploaded:\s+yes/);
    // no node has B200s: the job waits, naming the file
    const job = await api.post('/v1/jobs', { command: ['true'], resources: { gpus: 1, gpuModels: ['B200'] }, inputs: [{ file: id, path: 'k' }] });
    expect(job.status, JSON.stringify(job.body)).toBe(202);
    const refused = await cli(['files', 'rm', id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`job ${job.body.job.id}, which is QUEUED`);
    expect((await cli(['jobs', 'cancel', job.body.job.id])).code).toBe(0);
    const rm = await cli(['files', 'rm', id]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toContain(`file ${id} deleted`);
    expect(JSON.parse((await cli(['files', 'ls', '--json'])).stdout).items.map((f: { id: string }) => f.id)).not.toContain(id);
  }, 60_000);
});

describe('gpupool outputs --to against a hostile listing', () => {
  it('refuses a path that climbs out of the target dir and writes nothing', async () => {
    const h = harness(
      { 'GET /v1/jobs/{id}/outputs': () => ({ body: { items: [{ path: '../../evil.sh', size: 1, sha256: 'a'.repeat(64), url: 'http://s3.test/x' }] } }) },
      { GPUPOOL_API_URL: 'http://api.test', GPUPOOL_API_KEY: 'gp_k' },
    );
    try {
      const target = path.join(h.dir, 'out', 'deep');
      const r = await h.run(['outputs', 'job1', '--to', target]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/refusing output "..\/..\/evil.sh"/);
      expect(existsSync(path.join(h.dir, 'evil.sh'))).toBe(false);
      expect(h.requests.map((q) => q.path)).toEqual(['/v1/jobs/job1/outputs']);
    } finally {
      h.cleanup();
    }
  });
});
