// The bucket behind files, outputs and checkpoints (S3 on AWS, s3rver on the local stack). Uploads and
// downloads never pass through the control plane: it hands out presigned URLs, each for one exact key,
// with the length and the sha256 of the body signed in (S3 refuses any other body), and it reads back
// what it granted (HeadObject, ListObjectsV2) before it lists anything. s3rver checks neither signatures
// nor lengths, so the rules that matter are also enforced by gpupool's own code (usecases/files.ts).
import { sha256HexToBase64 } from '../domain/files/keys';
import { presignS3, type S3Credentials } from './s3-presign';

export interface StoredObject {
  key: string;
  size: number;
}

/** What the use cases need of object storage; tests may fake it. */
export interface FileStoragePort {
  /** a PUT URL for exactly `key`, exactly `size` bytes whose SHA-256 is `sha256` (hex), valid `expiresSeconds` */
  presignPut(key: string, size: number, sha256: string, expiresSeconds: number): Promise<string>;
  /** a GET URL for exactly `key`, valid `expiresSeconds` */
  presignGet(key: string, expiresSeconds: number): Promise<string>;
  head(key: string): Promise<StoredObject | undefined>;
  /** every object under `prefix`, up to `max` of them */
  list(prefix: string, max: number): Promise<StoredObject[]>;
  putJson(key: string, value: unknown): Promise<void>;
  getJson<T>(key: string): Promise<T | undefined>;
}

export interface S3Settings {
  bucket: string;
  /** the local stack's s3rver; absent on AWS */
  endpoint?: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** The function's own credentials (Lambda sets these), unless the settings carry some (the local stack). */
function credentialsOf(s: S3Settings): S3Credentials {
  if (s.credentials) return s.credentials;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = process.env;
  if (!accessKeyId || !secretAccessKey) throw new Error('no AWS credentials in the environment for the files bucket');
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

const xmlText = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');
const tag = (xml: string, name: string) => xml.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1];

/**
 * S3 over its REST API with SigV4 query signing (s3-presign.ts): path-style URLs (s3rver serves buckets
 * by path; on AWS it works too and keeps URLs uniform), no SDK client in the bundle. The control plane's
 * own calls are presigned for a minute and sent at once.
 */
export class S3FileStorage implements FileStoragePort {
  private readonly endpoint: string;

  constructor(private readonly s: S3Settings) {
    this.endpoint = s.endpoint ?? `https://s3.${s.region}.amazonaws.com`;
  }

  private sign(method: 'GET' | 'PUT' | 'HEAD', key: string | undefined, expiresSeconds: number, o: { query?: Record<string, string>; headers?: Record<string, string> } = {}): string {
    return presignS3({ method, endpoint: this.endpoint, region: this.s.region, bucket: this.s.bucket, key, expiresSeconds, credentials: credentialsOf(this.s), ...o });
  }

  presignPut(key: string, size: number, sha256: string, expiresSeconds: number): Promise<string> {
    // the length is a signed header (the client must send exactly that many bytes); the checksum rides in
    // the signed query string and S3 compares it with the body it receives
    return Promise.resolve(this.sign('PUT', key, expiresSeconds, { headers: { 'content-length': String(size) }, query: { 'x-amz-checksum-sha256': sha256HexToBase64(sha256), 'x-id': 'PutObject' } }));
  }

  presignGet(key: string, expiresSeconds: number): Promise<string> {
    return Promise.resolve(this.sign('GET', key, expiresSeconds, { query: { 'x-id': 'GetObject' } }));
  }

  async head(key: string): Promise<StoredObject | undefined> {
    const res = await fetch(this.sign('HEAD', key, 60), { method: 'HEAD' });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`S3 HEAD ${key}: HTTP ${res.status}`);
    return { key, size: Number(res.headers.get('content-length') ?? 0) };
  }

  async list(prefix: string, max: number): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': String(Math.min(1000, max - out.length)), ...(token ? { 'continuation-token': token } : {}) };
      const res = await fetch(this.sign('GET', undefined, 60, { query }));
      const xml = await res.text();
      if (!res.ok) throw new Error(`S3 list ${prefix}: HTTP ${res.status} ${xml.slice(0, 300)}`);
      for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const k = tag(m[1], 'Key');
        if (k !== undefined) out.push({ key: xmlText(k), size: Number(tag(m[1], 'Size') ?? 0) });
      }
      token = tag(xml, 'IsTruncated') === 'true' ? xmlText(tag(xml, 'NextContinuationToken') ?? '') || undefined : undefined;
    } while (token && out.length < max);
    return out;
  }

  async putJson(key: string, value: unknown): Promise<void> {
    const body = Buffer.from(JSON.stringify(value));
    const res = await fetch(this.sign('PUT', key, 60, { headers: { 'content-length': String(body.length) } }), { method: 'PUT', body });
    if (!res.ok) throw new Error(`S3 PUT ${key}: HTTP ${res.status}`);
  }

  async getJson<T>(key: string): Promise<T | undefined> {
    const res = await fetch(this.sign('GET', key, 60));
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`S3 GET ${key}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }
}
