// An S3-compatible server in this process (s3rver) for the local stack, its data under a directory the
// caller gives. It does not verify SigV4 signatures (only expiry and the access key S3RVER) nor lengths:
// gpupool's own code enforces what matters (functions/usecases/files.ts), and the signing rules are
// proven by unit tests of the presigner (test/store/files-store.test.ts).
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore s3rver ships no types
import S3rver from 's3rver';

export interface S3Local {
  endpoint: string;
  port: number;
  bucket: string;
  /** s3rver accepts this access key and no other */
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

export async function startS3Local(o: { directory: string; bucket: string; port?: number; host?: string }): Promise<S3Local> {
  mkdirSync(o.directory, { recursive: true });
  const host = o.host ?? '127.0.0.1';
  const server = new (S3rver as unknown as new (opts: object) => S3rverInstance)({
    address: host,
    port: o.port ?? 0,
    directory: o.directory,
    silent: true,
    // buckets by path only: presigned URLs use path style (functions/store/files-store.ts)
    vhostBuckets: false,
    configureBuckets: [{ name: o.bucket }],
  });
  const addr = await server.run();
  return {
    endpoint: `http://${host}:${addr.port}`,
    port: addr.port,
    bucket: o.bucket,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    stop: () => server.close(),
  };
}
