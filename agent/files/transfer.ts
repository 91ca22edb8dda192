// Moving bytes between the node and presigned URLs. Downloads are checked as they come (a byte limit,
// the expected size and sha256); uploads stream a file with its exact length, as the URL was signed.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileHandle } from 'node:fs/promises';

/** A download the job's own inputs caused to fail: the consumer's to fix (wrong sha256, too big, gone). */
export class InputError extends Error {
  override name = 'InputError';
}

export interface DownloadOptions {
  url: string;
  /** where the file lands (its directories are made) */
  to: string;
  size?: number;
  sha256?: string;
  /** bytes this download may still take (the attempt's input budget) */
  budget: number;
  timeoutMs?: number;
}

/** Downloads to `to`, checking size and sha256; returns the bytes taken. A failed file is removed. */
export async function download(o: DownloadOptions): Promise<number> {
  await mkdir(path.dirname(o.to), { recursive: true });
  const res = await fetch(o.url, { signal: AbortSignal.timeout(o.timeoutMs ?? 30 * 60_000), redirect: 'error' }).catch((e: Error) => {
    throw new InputError(`cannot fetch: ${e.message}`);
  });
  if (!res.ok || !res.body) throw new InputError(`answered HTTP ${res.status}`);
  const announced = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(announced) && announced > o.budget) throw new InputError(`${announced} bytes exceed the job's input limit`);
  const hash = createHash('sha256');
  let bytes = 0;
  const counted = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream).map((chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > o.budget) throw new InputError(`more than the job's input limit of bytes`);
    if (o.size !== undefined && bytes > o.size) throw new InputError(`more than the declared ${o.size} bytes`);
    hash.update(chunk);
    return chunk;
  });
  try {
    await pipeline(counted, createWriteStream(o.to, { mode: 0o644 }));
    if (o.size !== undefined && bytes !== o.size) throw new InputError(`${bytes} bytes, not the declared ${o.size}`);
    const got = hash.digest('hex');
    if (o.sha256 && got !== o.sha256) throw new InputError(`sha256 ${got}, not the expected ${o.sha256}`);
    return bytes;
  } catch (e) {
    await rm(o.to, { force: true });
    throw e instanceof InputError ? e : new InputError((e as Error).message);
  }
}

/** PUTs an open file's `size` bytes to a presigned URL with that exact Content-Length. */
export function upload(url: string, fh: FileHandle, size: number, timeoutMs = 30 * 60_000): Promise<void> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, { method: 'PUT', headers: { 'content-length': String(size) }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve() : reject(new Error(`upload answered HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('upload timed out')));
    req.on('error', reject);
    const body = fh.createReadStream({ start: 0, end: size - 1, autoClose: false });
    if (size === 0) req.end();
    else body.pipe(req);
  });
}
