// A consumer's uploaded files (docs/data.md, Files): list, show, delete, and the claim a submit makes on
// each file it names. Items live under the caller's account in the files table, so another account's id
// names nothing: a 404 like a missing one. A delete is refused (409, naming the job) while a job that named
// the file has not ended; the claim and the delete's mark are conditional writes on the file's item.
import { DomainError, conflict, notFound } from '../domain/errors';
import { holderState, MAX_LIVE_HOLDS, PRUNE_HOLDS_AT, stillNeeded, type HolderState } from '../domain/files/holds';
import { fileDataKey, fileRecordKey } from '../domain/files/keys';
import { DOWNLOAD_URL_SECONDS } from '../domain/files/limits';
import { FINAL_JOB_STATUSES, type Caller, type Job, type JobInput } from '../domain/model';
import type { FileItem, FileItemsStore } from '../store/file-items-store';
import type { FileStoragePort } from '../store/files-store';
import type { Deps } from './deps';
import { arrayJobId } from '../domain/job/array-id';
import { replicaIds, tiebreakerId } from './replicas';

const DAY_MS = 86_400_000;
/** a claim re-reads its holders once per this many claims past PRUNE_HOLDS_AT (each holder: one read) */
const PRUNE_EVERY = 50;
/** an array's members read at once while judging it */
const MEMBER_READS = 25;

function stores(d: Deps): { items: FileItemsStore; files: FileStoragePort } {
  if (!d.files || !d.fileItems) throw new DomainError('bad_request', 'this deployment has no file storage');
  return { items: d.fileItems, files: d.files };
}

export const fileItemView = (f: FileItem) => ({ id: f.id, name: f.name, size: f.size, sha256: f.sha256, createdAt: f.createdAt, expiresAt: f.expiresAt * 1000 });

/** Called by createFile: the listing's item, expiring with the bucket's lifecycle rule for uploads. */
export async function recordFile(d: Deps, f: { id: string; accountId: string; name: string; size: number; sha256: string; createdAt: number }): Promise<FileItem> {
  const { items } = stores(d);
  const days = d.settings.files?.uploadsExpireDays ?? 30;
  const item = { ...f, expiresAt: Math.ceil((f.createdAt + days * DAY_MS) / 1000) };
  await items.create(item);
  return { ...item, holds: {}, claims: 0 };
}

/** GET /v1/files: the caller's files, newest first. */
export async function listFiles(d: Deps, caller: Caller, limit: number, cursor?: string) {
  const page = await stores(d).items.page(caller.accountId, limit, cursor);
  return { items: page.items.filter((f) => f.deletingAt === undefined).map(fileItemView), nextCursor: page.nextCursor ?? null };
}

async function ownFile(d: Deps, caller: Caller, id: string): Promise<FileItem> {
  const f = await stores(d).items.get(caller.accountId, id);
  if (!f || f.deletingAt !== undefined) throw notFound('file');
  return f;
}

/** GET /v1/files/{id}: the record, whether the bytes are in the store at their size, and a link when they are. */
export async function getFile(d: Deps, caller: Caller, id: string) {
  const f = await ownFile(d, caller, id);
  const { files } = stores(d);
  const stored = await files.head(fileDataKey(caller.accountId, id));
  const uploaded = stored?.size === f.size;
  return { ...fileItemView(f), uploaded, downloadUrl: uploaded ? await files.presignGet(fileDataKey(caller.accountId, id), DOWNLOAD_URL_SECONDS) : null };
}

/** The jobs a holder stands for: the job, a replicated job's replicas (and tie-breaker), or an array's members (read until one has not ended). */
async function holderJobs(d: Deps, accountId: string, holder: string): Promise<Job[]> {
  const job = await d.jobs.get(holder);
  if (job) {
    if (job.accountId !== accountId) return [];
    const n = job.verification?.replicas;
    if (!n || n < 2) return [job];
    // a disagreement adds a tie-breaker replica naming the same inputs
    return (await Promise.all([...replicaIds(holder, n), tiebreakerId(holder, n)].map((id) => d.jobs.get(id)))).filter((j): j is Job => !!j);
  }
  const first = await d.jobs.get(arrayJobId(holder, 0));
  if (!first?.arrayMember || first.arrayMember.id !== holder || first.accountId !== accountId) return [];
  const out: Job[] = [first];
  for (let i = 1; i < first.arrayMember.size && FINAL_JOB_STATUSES.includes(out[out.length - 1].status); i += MEMBER_READS) {
    const ids = Array.from({ length: Math.min(MEMBER_READS, first.arrayMember.size - i) }, (_, k) => arrayJobId(holder, i + k));
    const read = (await Promise.all(ids.map((id) => d.jobs.get(id)))).filter((j): j is Job => !!j);
    const waiting = read.find((j) => !FINAL_JOB_STATUSES.includes(j.status));
    out.push(...(waiting ? [waiting] : read));
  }
  return out;
}

/** Each holder of the file judged now: the first live one (if any) and those that ended. */
async function judge(d: Deps, f: FileItem, stopAtLive: boolean) {
  let live: { holder: string; state: Extract<HolderState, { live: true }> } | undefined;
  let liveCount = 0;
  const ended: string[] = [];
  for (const [holder, heldAt] of Object.entries(f.holds)) {
    const state = holderState(await holderJobs(d, f.accountId, holder), heldAt, d.now());
    if (!state.live) ended.push(holder);
    else {
      live ??= { holder, state };
      liveCount++;
      if (stopAtLive) break;
    }
  }
  return { live, liveCount, ended };
}

/**
 * DELETE /v1/files/{id}. Refused (409, naming the job) while a job that named the file has not ended.
 * Else the item is marked, conditionally on its claim counter: a submit that claimed the file after the
 * read makes the mark fail and the holders are judged again (now with that submit among them); a submit
 * after the mark finds the file gone. Then the bytes, the record and the item are removed; a repeat
 * finishes a delete that stopped half-way.
 */
export async function deleteFile(d: Deps, caller: Caller, id: string): Promise<void> {
  const { items, files } = stores(d);
  for (let round = 0; round < 4; round++) {
    const f = await items.get(caller.accountId, id);
    if (!f) throw notFound('file');
    if (f.deletingAt === undefined) {
      const { live } = await judge(d, f, true);
      if (live) throw conflict(stillNeeded(id, live.holder, live.state));
      if (!(await items.markDeleting(caller.accountId, id, f.claims, d.now()))) continue;
    }
    await files.delete(fileDataKey(caller.accountId, id));
    await files.delete(fileRecordKey(caller.accountId, id));
    await items.remove(caller.accountId, id);
    return;
  }
  throw conflict(`file ${id} is being named by new jobs right now; try again`);
}

/**
 * A submit's claim on every file its inputs name, before its jobs are written (`holder`: the job's, the
 * replicated job's or the array's id). A file missing or being deleted is the same 400 as checkInputs'.
 * Past PRUNE_HOLDS_AT holders, ended ones are dropped now and then; MAX_LIVE_HOLDS live ones refuse more.
 */
export async function claimInputs(d: Deps, caller: Caller, inputs: readonly JobInput[] | undefined, holder: string): Promise<void> {
  const seen = new Set<string>();
  for (const [i, input] of (inputs ?? []).entries()) {
    if (!('file' in input) || seen.has(input.file)) continue;
    seen.add(input.file);
    const { items } = stores(d);
    const f = await items.get(caller.accountId, input.file);
    const held = f ? Object.keys(f.holds).length : 0;
    if (f && held >= PRUNE_HOLDS_AT && (f.claims % PRUNE_EVERY === 0 || held >= MAX_LIVE_HOLDS)) {
      const { liveCount, ended } = await judge(d, f, false);
      if (liveCount >= MAX_LIVE_HOLDS) throw conflict(`file ${input.file} is an input of ${liveCount} jobs not yet ended; at most ${MAX_LIVE_HOLDS}`);
      await items.prune(caller.accountId, input.file, ended, f.claims); // false: a claim came meanwhile; a later one prunes
    }
    if (!(await items.claim(caller.accountId, input.file, holder, d.now())))
      throw new DomainError('validation_failed', 'invalid body', [{ path: `inputs.${i}.file`, message: `no file ${input.file}` }]);
  }
}

/** Takes back a submit's claims when it wrote no job, so a refused submit does not hold the files for SUBMIT_GRACE_MS. */
export async function releaseInputs(d: Deps, caller: Caller, inputs: readonly JobInput[] | undefined, holder: string): Promise<void> {
  if (!d.fileItems) return;
  for (const id of new Set((inputs ?? []).flatMap((i) => ('file' in i ? [i.file] : [])))) await d.fileItems.release(caller.accountId, id, holder);
}

/** Runs `write` (a submit's job writes) with the claims taken back should it fail. */
export async function withClaims<T>(d: Deps, caller: Caller, inputs: readonly JobInput[] | undefined, holder: string, write: () => Promise<T>): Promise<T> {
  await claimInputs(d, caller, inputs, holder);
  try {
    return await write();
  } catch (e) {
    // only a refusal is known to have written nothing; after any other failure the claim stays (it lapses
    // after SUBMIT_GRACE_MS if no job came of it)
    if (e instanceof DomainError) await releaseInputs(d, caller, inputs, holder).catch(() => undefined);
    throw e;
  }
}
