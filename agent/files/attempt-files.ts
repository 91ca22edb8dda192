// An attempt's three directories: inputs placed before the command starts, outputs uploaded when it
// ends, and the checkpoint dir saved every N seconds and when the attempt is stopped (docs/data.md).
// They live under the agent's state dir, apart from the runtime's scratch dir, so outputs survive the
// workload's end until they are uploaded; all three are removed once the attempt is reported.
import type { WebhookAddressRules } from '../../functions/domain/webhook/target';
import { inputAddressRules } from './input-guard';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DeclaredFile, StartFiles } from '../../functions/domain/files/protocol';
import { isSafeRelativePath } from '../../functions/domain/files/paths';
import { MAX_CHECKPOINT_FILES, MAX_OUTPUT_FILES } from '../../functions/domain/files/limits';
import type { Logger } from '../log';
import { download, InputError, upload } from './transfer';
import { hashOpen, openWalked, walkFiles, type WalkedFile } from './walk';

export interface FilesApi {
  outputs(jobId: string, body: { attemptId: string; files: DeclaredFile[] }): Promise<{ uploads: { path: string; url: string }[] }>;
  checkpoint(jobId: string, body: { attemptId: string; seq: number; files: DeclaredFile[]; commit?: boolean }): Promise<{ uploads: { sha256: string; url: string }[]; committed: boolean }>;
}

export interface AttemptDirs {
  inputs: string;
  outputs: string;
  checkpoints: string;
}

/** how the attempt's start went wrong because of its inputs: the consumer's to fix */
export const INPUT_FAILED = 'INPUT_FAILED';

export class AttemptFiles {
  readonly dirs: AttemptDirs;
  private readonly root: string;
  private timer?: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();
  private seq = 0;
  /** sha256 of files already hashed, by path, while size, mtime and inode stay the same */
  private readonly known = new Map<string, { size: number; mtimeMs: number; ino: number; sha256: string }>();
  private lastSaved = '';

  constructor(
    stateDir: string | undefined,
    private readonly jobId: string,
    private readonly attemptId: string,
    private readonly api: FilesApi,
    private readonly log: Logger,
    private readonly files?: StartFiles,
    /** a line for the job's own output (system stream) */
    private readonly say: (text: string) => void = () => undefined,
    /** where a consumer's URL input may lead (input-guard.ts): public addresses only unless the node allows loopback */
    private readonly inputRules: WebhookAddressRules = inputAddressRules(false),
  ) {
    // a state dir is always given in service; the temp dir serves stand-ins that have none
    this.root = path.join(stateDir || tmpdir(), 'files', attemptId);
    this.dirs = { inputs: path.join(this.root, 'inputs'), outputs: path.join(this.root, 'outputs'), checkpoints: path.join(this.root, 'checkpoints') };
  }

  /**
   * Makes the dirs, places the inputs and restores the last checkpoint. Returns why the attempt cannot
   * start (an input that does not check out), or undefined.
   */
  async prepare(): Promise<string | undefined> {
    for (const d of Object.values(this.dirs)) await mkdir(d, { recursive: true, mode: 0o777 });
    const f = this.files;
    if (!f) return undefined;
    let budget = f.maxInputBytes;
    for (const input of f.inputs) {
      // the control plane checked the path at submit; checked again because the node trusts nobody's word
      if (!isSafeRelativePath(input.path)) return `${INPUT_FAILED}: input path ${JSON.stringify(input.path)} not allowed`;
      try {
        budget -= await download({ url: input.url, to: path.join(this.dirs.inputs, ...input.path.split('/')), size: input.size, sha256: input.sha256, budget, ...(input.external ? { guard: this.inputRules } : {}) });
      } catch (e) {
        return `${INPUT_FAILED}: ${input.path}: ${(e as Error).message}`;
      }
    }
    const restore = f.checkpoint?.restore ?? [];
    for (const c of restore) {
      try {
        if (!isSafeRelativePath(c.path)) throw new InputError('path not allowed');
        await download({ url: c.url, to: path.join(this.dirs.checkpoints, ...c.path.split('/')), size: c.size, sha256: c.sha256, budget: Number.MAX_SAFE_INTEGER });
      } catch (e) {
        // the store lost the checkpoint or it does not check out: the node's side, so the attempt goes back (lost)
        throw new Error(`checkpoint restore failed: ${c.path}: ${(e as Error).message}`);
      }
    }
    if (restore.length) this.say(`gpupool: restored checkpoint ${f.checkpoint!.restoredSeq ?? ''} (${restore.length} files)`);
    return undefined;
  }

  /** Saves the checkpoint dir every intervalSeconds while the attempt runs (one save at a time). */
  startCheckpoints(): void {
    const every = this.files?.checkpoint?.intervalSeconds;
    if (!every) return;
    this.timer = setInterval(() => void this.saveCheckpoint(), every * 1000);
    this.timer.unref();
  }

  /** A last save (the attempt was stopped or ended); waits for one in progress first. */
  async finalCheckpoint(): Promise<void> {
    clearInterval(this.timer);
    if (this.files?.checkpoint) await this.saveCheckpoint();
  }

  saveCheckpoint(): Promise<void> {
    this.saving = this.saving.then(() => this.save().catch((err) => this.log.warn('checkpoint not saved', { err: (err as Error).message })));
    return this.saving;
  }

  private async save(): Promise<void> {
    const walk = await walkFiles(this.dirs.checkpoints, MAX_CHECKPOINT_FILES);
    if (walk.skipped.length) this.say(`gpupool: checkpoint leaves out ${walk.skipped.slice(0, 5).join(', ')}`);
    const declared: (DeclaredFile & { walked: WalkedFile })[] = [];
    for (const w of walk.files) {
      const k = this.known.get(w.path);
      if (k && k.size === w.size && k.mtimeMs === w.mtimeMs && k.ino === w.ino) declared.push({ path: w.path, size: w.size, sha256: k.sha256, walked: w });
      else {
        const fh = await openWalked(this.dirs.checkpoints, w);
        try {
          const { sha256, size } = await hashOpen(fh);
          this.known.set(w.path, { size, mtimeMs: w.mtimeMs, ino: w.ino, sha256 });
          declared.push({ path: w.path, size, sha256, walked: { ...w, size } });
        } finally {
          await fh.close();
        }
      }
    }
    const files = declared.map(({ path: p, size, sha256 }) => ({ path: p, size, sha256 }));
    const fingerprint = JSON.stringify(files);
    // nothing changed since the last save: no request at all
    if (fingerprint === this.lastSaved || files.length === 0) return;
    const seq = ++this.seq;
    const grant = await this.api.checkpoint(this.jobId, { attemptId: this.attemptId, seq, files });
    for (const u of grant.uploads) {
      const f = declared.find((d) => d.sha256 === u.sha256)!;
      const fh = await openWalked(this.dirs.checkpoints, f.walked);
      try {
        await upload(u.url, fh, f.size);
      } finally {
        await fh.close();
      }
    }
    await this.api.checkpoint(this.jobId, { attemptId: this.attemptId, seq, files, commit: true });
    this.lastSaved = fingerprint;
    this.log.info('checkpoint saved', { seq, files: files.length, uploaded: grant.uploads.length });
  }

  /** Uploads what the job left in its outputs dir, with grants for exactly those files. */
  async uploadOutputs(): Promise<void> {
    const walk = await walkFiles(this.dirs.outputs, MAX_OUTPUT_FILES);
    if (walk.skipped.length) this.say(`gpupool: outputs leave out ${walk.skipped.slice(0, 5).join(', ')}`);
    if (walk.files.length === 0) return;
    const declared: (DeclaredFile & { walked: WalkedFile })[] = [];
    for (const w of walk.files) {
      const fh = await openWalked(this.dirs.outputs, w);
      try {
        declared.push({ path: w.path, ...(await hashOpen(fh)), walked: w });
      } finally {
        await fh.close();
      }
    }
    const grant = await this.api.outputs(this.jobId, { attemptId: this.attemptId, files: declared.map(({ path: p, size, sha256 }) => ({ path: p, size, sha256 })) });
    for (const u of grant.uploads) {
      const f = declared.find((d) => d.path === u.path);
      if (!f) continue;
      const fh = await openWalked(this.dirs.outputs, f.walked);
      try {
        await upload(u.url, fh, f.size);
      } finally {
        await fh.close();
      }
    }
    this.say(`gpupool: uploaded ${grant.uploads.length} output file(s)`);
  }

  async cleanup(): Promise<void> {
    clearInterval(this.timer);
    await rm(this.root, { recursive: true, force: true }).catch((err) => this.log.warn('files cleanup failed', { err }));
  }
}
