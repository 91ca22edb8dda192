// The hand-written SigV4 query signer (functions/store/s3-presign.ts) against the AWS SDK's presigner:
// the same inputs and clock must give the same URL, signature included.
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { presignS3 } from '../../functions/store/s3-presign';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token/with+chars=' };
const now = new Date('2026-12-02T16:00:00Z');
const endpoint = 'https://s3.eu-west-1.amazonaws.com';
const sdk = new S3Client({ region: 'eu-west-1', endpoint, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
/** the SDK adds x-id=<Operation> to the query; ours does the same through `query` */
const ours = (o: Pick<Parameters<typeof presignS3>[0], 'method' | 'key' | 'query' | 'headers'>) => presignS3({ endpoint, region: 'eu-west-1', bucket: 'gpupool-files', credentials, now, expiresSeconds: 900, ...o });

describe('presignS3 equals the AWS SDK presigner', () => {
  it('a PUT with a signed length and sha256 checksum, an awkward key', async () => {
    const key = 'jobs/j1/attempts/a1/outputs/dir with space/ü (1)*.bin';
    const checksum = Buffer.alloc(32, 7).toString('base64');
    const want = await getSignedUrl(sdk, new PutObjectCommand({ Bucket: 'gpupool-files', Key: key, ContentLength: 12, ChecksumSHA256: checksum }), { expiresIn: 900, signingDate: now });
    const got = ours({ method: 'PUT', key, headers: { 'content-length': '12' }, query: { 'x-amz-checksum-sha256': checksum, 'x-id': 'PutObject' } });
    expect(new URL(got).searchParams.get('X-Amz-Signature')).toBe(new URL(want).searchParams.get('X-Amz-Signature'));
    expect(got).toBe(want);
  });

  it('a GET, a HEAD and a bucket listing', async () => {
    expect(ours({ method: 'GET', key: 'files/a/f/data', query: { 'x-id': 'GetObject' } })).toBe(
      await getSignedUrl(sdk, new GetObjectCommand({ Bucket: 'gpupool-files', Key: 'files/a/f/data' }), { expiresIn: 900, signingDate: now }),
    );
    expect(ours({ method: 'HEAD', key: 'files/a/f/data' })).toBe(
      await getSignedUrl(sdk, new HeadObjectCommand({ Bucket: 'gpupool-files', Key: 'files/a/f/data' }), { expiresIn: 900, signingDate: now }),
    );
    expect(ours({ method: 'GET', query: { 'list-type': '2', prefix: 'jobs/j1/', 'max-keys': '1000' } })).toBe(
      await getSignedUrl(sdk, new ListObjectsV2Command({ Bucket: 'gpupool-files', Prefix: 'jobs/j1/', MaxKeys: 1000 }), { expiresIn: 900, signingDate: now }),
    );
  });
});
