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
import type { WebhookAddressRules } from '../../functions/domain/webhook/target';
import { checkedAddress, getPinned } from './input-guard';

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
  /** a consumer's URL: fetched only from an address these rules allow, checked where the node connects (input-guard.ts) */
  guard?: WebhookAddressRules;
}

/** Downloads to `to`, checking size and sha256; returns the bytes taken. A failed file is removed. */
export async function download(o: DownloadOptions): Promise<number> {
  await mkdir(path.dirname(o.to), { recursive: true });
  const res = await open(o).catch((e: Error) => {
    throw e instanceof InputError ? e : new InputError(`cannot fetch: ${e.message}`);
  });
  if (res.status < 200 || res.status > 299) {
    res.body.destroy();
    throw new InputError(`answered HTTP ${res.status}`);
  }
  const announced = res.contentLength ?? NaN;
  if (Number.isFinite(announced) && announced > o.budget) {
    res.body.destroy();
    throw new InputError(`${announced} bytes exceed the job's input limit`);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const counted = res.body.map((chunk: Buffer) => {
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

/** The response to a download's GET: pinned to a checked address for a guarded (consumer) URL, plain fetch for the control plane's links. */
async function open(o: DownloadOptions): Promise<{ status: number; contentLength?: number; body: Readable }> {
  const timeoutMs = o.timeoutMs ?? 30 * 60_000;
  if (o.guard) {
    const to = await checkedAddress(o.url, o.guard).catch((e: Error) => {
      throw new InputError(e.message);
    });
    return getPinned(to, timeoutMs);
  }
  const res = await fetch(o.url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  const length = Number(res.headers.get('content-length') ?? NaN);
  const body = res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream) : Readable.from([]);
  return { status: res.status, ...(Number.isFinite(length) ? { contentLength: length } : {}), body };
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
