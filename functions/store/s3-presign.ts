// AWS Signature V4 query signing for S3, on node:crypto alone. The files adapter (files-store.ts) signs
// every request with it, its own calls included, so the functions carry no S3 SDK client (about 160 KiB
// of bundle, which would push the API functions past their 1 MB budget). Proven equal, byte for byte, to
// @aws-sdk/s3-request-presigner's URLs by test/store/s3-presign.test.ts.
import { createHash, createHmac } from 'node:crypto';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface PresignRequest {
  method: 'GET' | 'PUT' | 'HEAD';
  /** the endpoint, e.g. https://s3.us-east-1.amazonaws.com (path-style buckets) */
  endpoint: string;
  region: string;
  bucket: string;
  /** the object key; absent for a bucket request (ListObjectsV2) */
  key?: string;
  /** extra query parameters, signed (e.g. list-type, prefix; x-amz-checksum-sha256) */
  query?: Record<string, string>;
  /** headers the client must send exactly (content-length), signed */
  headers?: Record<string, string>;
  expiresSeconds: number;
  credentials: S3Credentials;
  now?: Date;
}

/** RFC 3986 encoding, as SigV4 wants it */
const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const hex = (data: string) => createHash('sha256').update(data).digest('hex');

export function presignS3(r: PresignRequest): string {
  const base = new URL(r.endpoint);
  const path = `${base.pathname.replace(/\/$/, '')}/${enc(r.bucket)}/${r.key !== undefined ? r.key.split('/').map(enc).join('/') : ''}`;
  const now = r.now ?? new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${r.region}/s3/aws4_request`;
  const headers: Record<string, string> = { host: base.host, ...Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v.trim()])) };
  const signed = Object.keys(headers).sort();
  const query: Record<string, string> = {
    ...r.query,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD',
    'X-Amz-Credential': `${r.credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': String(r.expiresSeconds),
    ...(r.credentials.sessionToken ? { 'X-Amz-Security-Token': r.credentials.sessionToken } : {}),
    'X-Amz-SignedHeaders': signed.join(';'),
  };
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${enc(k)}=${enc(query[k])}`)
    .join('&');
  const canonical = [r.method, path, canonicalQuery, signed.map((h) => `${h}:${headers[h]}\n`).join(''), signed.join(';'), 'UNSIGNED-PAYLOAD'].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${r.credentials.secretAccessKey}`, day), r.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const all: Record<string, string> = { ...query, 'X-Amz-Signature': signature };
  const finalQuery = Object.keys(all)
    .sort()
    .map((k) => `${enc(k)}=${enc(all[k])}`)
    .join('&');
  return `${base.protocol}//${base.host}${path}?${finalQuery}`;
}
