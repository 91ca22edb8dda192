// Where things live in the bucket. Every key is built here from ids the control plane chose (never from a
// node's word alone), so a grant or a listing can only reach the prefix of its own account, job or attempt.
import { isSafeRelativePath } from './paths';

const SHA256_HEX = /^[0-9a-f]{64}$/;
export const isSha256Hex = (s: string) => SHA256_HEX.test(s);

/** a consumer's uploaded file: under the account, so another account's id names nothing there */
export const fileDataKey = (accountId: string, fileId: string) => `files/${accountId}/${fileId}/data`;
/** what the control plane recorded when it granted the upload (name, size, sha256): written by it alone */
export const fileRecordKey = (accountId: string, fileId: string) => `files/${accountId}/${fileId}/record.json`;

const attemptPrefix = (jobId: string, attemptId: string) => `jobs/${jobId}/attempts/${attemptId}`;
/** the outputs an attempt may upload: one key per declared path, under the attempt's prefix */
export const outputsPrefix = (jobId: string, attemptId: string) => `${attemptPrefix(jobId, attemptId)}/outputs/`;
export function outputKey(jobId: string, attemptId: string, path: string): string {
  if (!isSafeRelativePath(path)) throw new Error(`unsafe output path ${JSON.stringify(path)}`);
  return outputsPrefix(jobId, attemptId) + path;
}
/** the list of outputs the control plane granted the attempt: only these are ever listed */
export const outputsManifestKey = (jobId: string, attemptId: string) => `${attemptPrefix(jobId, attemptId)}/outputs.json`;

/** checkpoint contents by sha256, shared by the job's attempts (an unchanged file is not sent again) */
export const checkpointBlobsPrefix = (jobId: string) => `jobs/${jobId}/checkpoints/blobs/`;
export function checkpointBlobKey(jobId: string, sha256: string): string {
  if (!isSha256Hex(sha256)) throw new Error('not a sha256');
  return checkpointBlobsPrefix(jobId) + sha256;
}
/** a complete checkpoint: written after its blobs were confirmed, so a manifest never names a missing blob */
export const checkpointManifestKey = (jobId: string, attemptId: string, seq: number) => `jobs/${jobId}/checkpoints/manifests/${attemptId}-${seq}.json`;

/** S3's checksum headers take the digest in base64; gpupool speaks hex */
export const sha256HexToBase64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
