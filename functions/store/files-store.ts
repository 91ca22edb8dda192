// The bucket behind files, outputs and checkpoints (S3 on AWS, s3rver on the local stack). Uploads and
// downloads never pass through the control plane: it hands out presigned URLs, each for one exact key,
// with the length and the sha256 of the body signed in (S3 refuses any other body), and it reads back
// what it granted (HeadObject, ListObjectsV2) before it lists anything. s3rver checks neither signatures
// nor lengths, so the rules that matter are also enforced by gpupool's own code (usecases/files.ts).
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { sha256HexToBase64 } from '../domain/files/keys';

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
  /** removes `key` (nothing when it is not there) */
  delete(key: string): Promise<void>;
}

export interface S3Settings {
  bucket: string;
  /** the local stack's s3rver; absent on AWS */
  endpoint?: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function makeS3Client(s: S3Settings): S3Client {
  const config: S3ClientConfig = {
    region: s.region,
    // s3rver serves buckets by path; on AWS path style works too and keeps presigned URLs uniform
    forcePathStyle: true,
    // with the SDK's default (WHEN_SUPPORTED) a streamed PutObject gets an aws-chunked body with a trailing
    // checksum, which s3rver stores as it is (corrupted); checksums we want are set explicitly
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.credentials ? { credentials: s.credentials } : {}),
  };
  return new S3Client(config);
}

const isMissing = (e: unknown) => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NotFound' || err?.name === 'NoSuchKey' || err?.$metadata?.httpStatusCode === 404;
};

export class S3FileStorage implements FileStoragePort {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  presignPut(key: string, size: number, sha256: string, expiresSeconds: number): Promise<string> {
    // ContentLength is a signed header (the client must send exactly that length); the checksum rides in
    // the signed query string and S3 compares it with the body it receives
    const cmd = new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentLength: size, ChecksumSHA256: sha256HexToBase64(sha256) });
    return getSignedUrl(this.s3, cmd, { expiresIn: expiresSeconds });
  }

  presignGet(key: string, expiresSeconds: number): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresSeconds });
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const r = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: r.ContentLength ?? 0 };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async list(prefix: string, max: number): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const r = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: Math.min(1000, max - out.length) }));
      for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token && out.length < max);
    return out;
  }

  async putJson(key: string, value: unknown): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(value), ContentType: 'application/json' }));
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async getJson<T>(key: string): Promise<T | undefined> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await r.Body!.transformToString()) as T;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }
}
