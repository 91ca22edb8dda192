// Files, inputs, outputs and checkpoints (docs/data.md). The bucket holds the bytes; the control plane
// decides every key: a consumer's files live under its account, an attempt's outputs under the attempt,
// a job's checkpoints under the job. s3rver (the local stack) verifies no signature and no length, so
// what is listed or restored is only ever what the control plane granted and then found in the store.
import { conflict, DomainError, notFound } from '../domain/errors';
import {
  checkpointBlobKey,
  checkpointBlobsPrefix,
  checkpointManifestKey,
  fileDataKey,
  fileRecordKey,
  outputKey,
  outputsManifestKey,
  outputsPrefix,
} from '../domain/files/keys';
import {
  DOWNLOAD_URL_SECONDS,
  MAX_CHECKPOINT_BYTES,
  MAX_CHECKPOINT_FILES,
  MAX_FILE_BYTES,
  MAX_INPUT_BYTES,
  MAX_OUTPUT_BYTES,
  MAX_OUTPUT_FILES,
  UPLOAD_URL_SECONDS,
} from '../domain/files/limits';
import { pathsDisjoint } from '../domain/files/paths';
import type { DeclaredFile, StartFiles } from '../domain/files/protocol';
import { isLiveAttempt } from '../domain/job/gang';
import type { Caller, CheckpointInfo, Job, JobInput } from '../domain/model';
import { webhookTarget } from '../domain/webhook/target';
import type { FileStoragePort } from '../store/files-store';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { fileItemView, recordFile } from './file-library';
import { jobOfAttempt } from './replicas';

export interface FileRecord {
  id: string;
  accountId: string;
  name: string;
  size: number;
  sha256: string;
  createdAt: number;
}

const invalid = (path: string, message: string) => new DomainError('validation_failed', 'invalid body', [{ path, message }]);

function storage(d: Deps): FileStoragePort {
  if (!d.files) throw new DomainError('bad_request', 'this deployment has no file storage');
  return d.files;
}

/** POST /v1/files: records the file under the caller's account and grants one upload of exactly these bytes. */
export async function createFile(d: Deps, caller: Caller, body: { name: string; size: number; sha256: string }) {
  const files = storage(d);
  const file: FileRecord = { id: d.newId(), accountId: caller.accountId, name: body.name, size: body.size, sha256: body.sha256, createdAt: d.now() };
  // the listing's item first: a record the listing does not know could never be deleted
  const item = await recordFile(d, file);
  await files.putJson(fileRecordKey(caller.accountId, file.id), file);
  const uploadUrl = await files.presignPut(fileDataKey(caller.accountId, file.id), file.size, file.sha256, UPLOAD_URL_SECONDS);
  return { file: fileItemView(item), uploadUrl };
}


/** The caller's own file, uploaded in full; else a 400 naming the input (another account's id names nothing here). */
async function ownUploadedFile(files: FileStoragePort, accountId: string, fileId: string, where: string): Promise<FileRecord> {
  const record = await files.getJson<FileRecord>(fileRecordKey(accountId, fileId));
  if (!record || record.accountId !== accountId) throw invalid(where, `no file ${fileId}`);
  const stored = await files.head(fileDataKey(accountId, fileId));
  if (!stored) throw invalid(where, `file ${fileId} is not uploaded yet`);
  // s3rver does not hold a PUT to its signed length: a body of another size is refused here
  if (stored.size !== record.size) throw invalid(where, `file ${fileId} holds ${stored.size} bytes, not the ${record.size} it was created with`);
  return record;
}

/**
 * A job's inputs at submit: every file the caller's own and uploaded, every URL allowed by the
 * deployment's address rules (the webhook rules: https and public addresses in the cloud), and the
 * known sizes within the per-job limit (URL inputs without a size are counted by the agent as they come).
 */
export async function checkInputs(d: Deps, caller: Caller, inputs: readonly JobInput[]): Promise<void> {
  let bytes = 0;
  for (const [i, input] of inputs.entries()) {
    const where = `inputs.${i}`;
    if ('file' in input) {
      bytes += (await ownUploadedFile(storage(d), caller.accountId, input.file, `${where}.file`)).size;
    } else {
      const t = webhookTarget(input.url, d.settings.webhooks);
      if ('problem' in t) throw invalid(`${where}.url`, t.problem.replace('webhook URL', 'input URL'));
      bytes += input.size ?? 0;
    }
  }
  if (bytes > MAX_INPUT_BYTES) throw invalid('inputs', `inputs take ${bytes} bytes; a job may take at most ${MAX_INPUT_BYTES}`);
}

/** The start answer's `files`: links to the inputs and the checkpoint to restore; undefined when the job has neither. */
export async function startFiles(d: Deps, job: Job): Promise<StartFiles | undefined> {
  if (!job.inputs?.length && !job.checkpoint) return undefined;
  const files = storage(d);
  const inputs = [];
  for (const input of job.inputs ?? []) {
    if ('url' in input) {
      inputs.push({ path: input.path, url: input.url, external: true, ...(input.sha256 ? { sha256: input.sha256 } : {}), ...(input.size !== undefined ? { size: input.size } : {}) });
      continue;
    }
    // read again: the agent checks the bytes against what the owner declared when it created the file
    const record = await files.getJson<FileRecord>(fileRecordKey(job.accountId, input.file));
    if (!record) throw conflict(`input file ${input.file} is gone`);
    inputs.push({ path: input.path, url: await files.presignGet(fileDataKey(job.accountId, input.file), DOWNLOAD_URL_SECONDS), size: record.size, sha256: record.sha256 });
  }
  const checkpoint = job.checkpoint && { intervalSeconds: job.checkpoint.intervalSeconds, ...(await restoreOf(d, files, job)) };
  return { inputs, maxInputBytes: MAX_INPUT_BYTES, ...(checkpoint ? { checkpoint } : {}) };
}

interface CheckpointManifest {
  jobId: string;
  attemptId: string;
  seq: number;
  files: DeclaredFile[];
  at: number;
}

/** The job's last complete checkpoint as downloads; its contents come only from this job's prefix. */
async function restoreOf(d: Deps, files: FileStoragePort, job: Job) {
  const last = job.lastCheckpoint;
  if (!last) return { restore: [] };
  const manifest = await files.getJson<CheckpointManifest>(checkpointManifestKey(job.id, last.attemptId, last.seq));
  if (!manifest || manifest.jobId !== job.id) return { restore: [] };
  const restore = [];
  for (const f of manifest.files) restore.push({ ...f, url: await files.presignGet(checkpointBlobKey(job.id, f.sha256), DOWNLOAD_URL_SECONDS) });
  return { restore, restoredSeq: last.seq };
}

/** The job and attempt if the attempt is live and runs on the caller's node; else 404 / 409, as the other agent calls. */
async function liveAttemptOfNode(d: Deps, caller: Caller, jobId: string, attemptId: string) {
  const job = await jobOfAttempt(d, jobId, attemptId);
  const attempt = job?.attempts.find((a) => a.id === attemptId);
  if (!job || !attempt || !caller.nodeId || attempt.nodeId !== caller.nodeId) throw notFound('attempt');
  if (!isLiveAttempt(job, attemptId)) throw conflict(`attempt ${attemptId} is not live`);
  return { job, attempt };
}

/** Counts, sizes and paths of a node's declared files, against the limits of their kind. */
function checkDeclared(list: readonly DeclaredFile[], maxFiles: number, maxBytes: number): void {
  if (list.length > maxFiles) throw invalid('files', `at most ${maxFiles} files`);
  if (!pathsDisjoint(list.map((f) => f.path))) throw invalid('files', 'paths must be unique, and none may lie under another');
  const total = list.reduce((s, f) => s + f.size, 0);
  if (total > maxBytes) throw invalid('files', `${total} bytes; at most ${maxBytes}`);
  if (list.some((f) => f.size > MAX_FILE_BYTES)) throw invalid('files', `a file may hold at most ${MAX_FILE_BYTES} bytes`);
}

interface OutputsManifest {
  jobId: string;
  attemptId: string;
  files: DeclaredFile[];
  grantedAt: number;
}

/**
 * POST /v1/agent/jobs/{id}/outputs: the node declares what its live attempt left; the control plane
 * records the declaration (the only thing ever listed) and grants one PUT per declared file, each for
 * its own key under the attempt's prefix, its length and sha256 signed in.
 */
export async function grantOutputs(d: Deps, caller: Caller, jobId: string, body: { attemptId: string; files: DeclaredFile[] }) {
  const files = storage(d);
  const { job } = await liveAttemptOfNode(d, caller, jobId, body.attemptId);
  checkDeclared(body.files, MAX_OUTPUT_FILES, MAX_OUTPUT_BYTES);
  const manifest: OutputsManifest = { jobId: job.id, attemptId: body.attemptId, files: body.files, grantedAt: d.now() };
  await files.putJson(outputsManifestKey(job.id, body.attemptId), manifest);
  const uploads = [];
  for (const f of body.files) uploads.push({ path: f.path, url: await files.presignPut(outputKey(job.id, body.attemptId, f.path), f.size, f.sha256, UPLOAD_URL_SECONDS) });
  return { uploads };
}

const ENDED_NOT_LOST = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

/**
 * GET /v1/jobs/{id}/outputs, the owner only: the outputs of the job's last attempt that ended without
 * being lost, as declared when granted and confirmed by the store (present, at the declared size).
 * A lost attempt's files, half-uploaded or not, are never listed; nor is anything the node put that
 * was not granted.
 */
export async function listOutputs(d: Deps, caller: Caller, jobId: string) {
  const job = await d.jobs.get(jobId);
  if (!job || job.accountId !== caller.accountId) throw notFound('job');
  const attempt = [...job.attempts].reverse().find((a) => a.finishedAt !== undefined && ENDED_NOT_LOST.has(a.status));
  if (!attempt || !d.files) return { attemptId: null, items: [] };
  const files = d.files;
  const manifest = await files.getJson<OutputsManifest>(outputsManifestKey(job.id, attempt.id));
  if (!manifest || manifest.jobId !== job.id || manifest.attemptId !== attempt.id) return { attemptId: attempt.id, items: [] };
  const stored = new Map((await files.list(outputsPrefix(job.id, attempt.id), MAX_OUTPUT_FILES * 2)).map((o) => [o.key, o.size]));
  const items = [];
  for (const f of manifest.files) {
    const key = outputKey(job.id, attempt.id, f.path);
    if (stored.get(key) !== f.size) continue;
    items.push({ path: f.path, size: f.size, sha256: f.sha256, url: await files.presignGet(key, DOWNLOAD_URL_SECONDS) });
  }
  return { attemptId: attempt.id, items };
}

/**
 * POST /v1/agent/jobs/{id}/checkpoint. Contents are kept by sha256 under the job's prefix, so a file
 * unchanged since an earlier checkpoint (of this attempt or an earlier one) is not sent again. A commit
 * checks every content is in the store at its size, writes the manifest, then points the job at it
 * under the job's version, only while the attempt is live: a fenced or stale attempt cannot replace
 * the checkpoint of the attempt that took over.
 */
export async function checkpoint(d: Deps, caller: Caller, jobId: string, body: { attemptId: string; seq: number; files: DeclaredFile[]; commit: boolean }) {
  const files = storage(d);
  const { job, attempt } = await liveAttemptOfNode(d, caller, jobId, body.attemptId);
  if (!job.checkpoint) throw new DomainError('bad_request', 'this job asked for no checkpoints');
  checkDeclared(body.files, MAX_CHECKPOINT_FILES, MAX_CHECKPOINT_BYTES);
  const stored = new Map((await files.list(checkpointBlobsPrefix(job.id), 100_000)).map((o) => [o.key, o.size]));
  const missing = new Map<string, number>();
  for (const f of body.files) if (stored.get(checkpointBlobKey(job.id, f.sha256)) !== f.size) missing.set(f.sha256, f.size);
  if (!body.commit) {
    const uploads = [];
    for (const [sha, size] of missing) uploads.push({ sha256: sha, url: await files.presignPut(checkpointBlobKey(job.id, sha), size, sha, UPLOAD_URL_SECONDS) });
    return { uploads, committed: false };
  }
  if (missing.size > 0) throw conflict(`${missing.size} checkpoint file(s) are not in the store yet`);
  const at = d.now();
  const manifest: CheckpointManifest = { jobId: job.id, attemptId: attempt.id, seq: body.seq, files: body.files, at };
  await files.putJson(checkpointManifestKey(job.id, attempt.id, body.seq), manifest);
  const info: CheckpointInfo = { at, bytes: body.files.reduce((s, f) => s + f.size, 0), files: body.files.length, attemptId: attempt.id, attemptN: attempt.n, seq: body.seq };
  const older = new Error('an older save');
  await applyTransition(
    d,
    job,
    (j) => {
      if (!isLiveAttempt(j, attempt.id)) throw conflict(`attempt ${attempt.id} is not live`);
      // a late commit of an older save must not replace a newer one of the same attempt
      if (j.lastCheckpoint?.attemptId === attempt.id && j.lastCheckpoint.seq >= body.seq) throw older;
      return { job: { ...j, lastCheckpoint: info, version: j.version + 1 }, effects: [] };
    },
    { retries: 8 },
  ).catch((e) => {
    if (e !== older) throw e;
  });
  return { uploads: [], committed: true };
}
