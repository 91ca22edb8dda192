// The presigned URLs' rules (s3rver does not check signatures, so they are proven here against the
// signer), and the adapter's round trip through the local stack's s3rver.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client, S3FileStorage } from '../../functions/store/files-store';
import { startS3Local, type S3Local } from '../../lib/local/s3-local';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('presigned URLs (the signer, no server)', () => {
  const storage = new S3FileStorage(
    makeS3Client({ bucket: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } }),
    'b',
  );

  it('a PUT is for one exact key, signs the content length and carries the sha256 in the signed query', async () => {
    const digest = sha('hello');
    const u = new URL(await storage.presignPut('jobs/j1/attempts/a1/outputs/model.bin', 5, digest, 900));
    expect(u.pathname).toBe('/b/jobs/j1/attempts/a1/outputs/model.bin');
    expect(u.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(u.searchParams.get('X-Amz-SignedHeaders')!.split(';')).toContain('content-length');
    // S3 compares this checksum with the body it receives; it is part of the signed query string
    expect(u.searchParams.get('x-amz-checksum-sha256')).toBe(Buffer.from(digest, 'hex').toString('base64'));
    expect(u.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the signature changes with the key, the length and the checksum (none can be swapped after signing)', async () => {
    const sig = async (key: string, size: number, digest: string) => new URL(await storage.presignPut(key, size, digest, 900)).searchParams.get('X-Amz-Signature');
    const base = await sig('k/a', 5, sha('a'));
    expect(await sig('k/b', 5, sha('a'))).not.toBe(base);
    expect(await sig('k/a', 6, sha('a'))).not.toBe(base);
    expect(await sig('k/a', 5, sha('b'))).not.toBe(base);
  });

  it('a GET is for one exact key and expires', async () => {
    const u = new URL(await storage.presignGet('files/acct/f1/data', 60));
    expect(u.pathname).toBe('/b/files/acct/f1/data');
    expect(u.searchParams.get('X-Amz-Expires')).toBe('60');
  });
});

describe('S3FileStorage on s3rver', () => {
  let s3: S3Local;
  let dir: string;
  let storage: S3FileStorage;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gpupool-s3-'));
    s3 = await startS3Local({ directory: dir, bucket: 'gpupool-files' });
    storage = new S3FileStorage(makeS3Client({ bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, credentials: s3.credentials }), s3.bucket);
  });
  afterAll(async () => {
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a presigned PUT with plain fetch stores the bytes; head, list and a presigned GET read them back', async () => {
    const body = Buffer.from('a,b\n1,2\n');
    const put = await fetch(await storage.presignPut('files/a/f/data', body.length, sha(body), 60), { method: 'PUT', body });
    expect(put.status).toBe(200);
    expect(await storage.head('files/a/f/data')).toEqual({ key: 'files/a/f/data', size: body.length });
    expect(await storage.head('files/a/nope/data')).toBeUndefined();
    expect(await storage.list('files/a/', 10)).toEqual([{ key: 'files/a/f/data', size: body.length }]);
    const got = await fetch(await storage.presignGet('files/a/f/data', 60));
    expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);
  });

  it('JSON records round-trip; a missing one is undefined', async () => {
    await storage.putJson('files/a/f/record.json', { id: 'f', size: 3 });
    expect(await storage.getJson('files/a/f/record.json')).toEqual({ id: 'f', size: 3 });
    expect(await storage.getJson('files/a/g/record.json')).toBeUndefined();
  });
});
