// Image garbage collection on a docker node: the images the agent pulled or ran for jobs are kept within a
// disk budget its provider sets (GPUPOOL_IMAGE_DISK_BUDGET_GB), the least recently used going first, and
// the same order frees space when the docker data root runs short before a pull (pull.ts). Only images
// the agent itself used are ever removed (never the provider's own, never one on its warm list, even after
// a job ran it), and never one a container uses or an attempt of this agent is about to run.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log';

export interface GcImage {
  id: string;
  sizeBytes: number;
  /** epoch ms of the last attempt that pulled or ran it */
  lastUsedAt: number;
  /** a container (running or stopped) uses it, or an attempt of this agent is about to */
  inUse: boolean;
}

/**
 * Which images to remove, least recently used first (ties by id, so the choice is repeatable), until the
 * images together take at most `budgetBytes`. Images in use stay whatever they weigh, so the result may
 * leave the total above the budget.
 */
export function pickLeastRecentlyUsed(images: readonly GcImage[], budgetBytes: number): string[] {
  let total = images.reduce((s, i) => s + i.sizeBytes, 0);
  const out: string[] = [];
  const candidates = images.filter((i) => !i.inUse).sort((a, b) => a.lastUsedAt - b.lastUsedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const c of candidates) {
    if (total <= budgetBytes) break;
    out.push(c.id);
    total -= c.sizeBytes;
  }
  return out;
}

export type DockerExec = (args: string[]) => Promise<{ code: number | null; stdout: string[]; stderr: string[] }>;

export interface ImageGcOptions {
  /** where the use record is kept (the agent's state dir) */
  stateDir: string;
  /** GPUPOOL_IMAGE_DISK_BUDGET_GB in bytes; undefined: no budget, images go only when disk runs short */
  budgetBytes?: number;
  now?: () => number;
}

const RECORD = 'images-used.json';

export class ImageGc {
  /** image id → epoch ms of its last use by an attempt */
  private used: Record<string, number>;
  /** image ids attempts of this agent are pulling or running (a container may not exist yet) */
  private readonly pins = new Map<string, number>();
  private running?: Promise<string[]>;
  private readonly now: () => number;
  /** the provider's warm images (references), never collected while listed */
  private warm: () => readonly string[] = () => [];

  constructor(
    private readonly docker: DockerExec,
    private readonly log: Logger,
    private readonly opts: ImageGcOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.used = this.load();
  }

  /** The provider's warm list (PATCH /v1/nodes/{id} warmImages): those images stay, however long unused. */
  keepWarm(refs: () => readonly string[]): void {
    this.warm = refs;
  }

  /** An attempt uses this image now: it becomes the most recently used, and is pinned until `unpin`. */
  use(id: string): () => void {
    this.used[id] = this.now();
    this.save();
    this.pins.set(id, (this.pins.get(id) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.pins.get(id) ?? 1) - 1;
      if (n > 0) this.pins.set(id, n);
      else this.pins.delete(id);
    };
  }

  /**
   * Removes least recently used images until those the agent used take at most `budgetBytes` (the
   * provider's budget when not given); one collection at a time. Returns the ids removed.
   */
  collect(budgetBytes = this.opts.budgetBytes): Promise<string[]> {
    if (budgetBytes === undefined) return Promise.resolve([]);
    this.running ??= this.collectNow(budgetBytes).finally(() => (this.running = undefined));
    return this.running;
  }

  /** The images the agent used that are still on the node, with their sizes and whether they are in use. */
  async images(): Promise<GcImage[]> {
    const ids = Object.keys(this.used);
    if (ids.length === 0) return [];
    const present = new Set((await this.docker(['image', 'ls', '-q', '--no-trunc'])).stdout.map((l) => l.trim()));
    // forget images removed by someone else
    for (const id of ids) if (!present.has(id)) delete this.used[id];
    const known = ids.filter((id) => present.has(id));
    if (known.length === 0) return [];
    const sizes = new Map<string, number>();
    for (const l of (await this.docker(['image', 'inspect', '--format', '{{.Id}}\t{{.Size}}', ...known])).stdout) {
      const [id, size] = l.split('\t');
      if (id && size) sizes.set(id, Number(size));
    }
    const inUse = await this.imagesOfContainers();
    const warm = await this.warmIds();
    return known.filter((id) => sizes.has(id)).map((id) => ({ id, sizeBytes: sizes.get(id)!, lastUsedAt: this.used[id]!, inUse: inUse.has(id) || this.pins.has(id) || warm.has(id) }));
  }

  private async collectNow(budgetBytes: number): Promise<string[]> {
    const images = await this.images();
    const removed: string[] = [];
    for (const id of pickLeastRecentlyUsed(images, budgetBytes)) {
      // checked again right before: an attempt may have started with it since the listing
      if (this.pins.has(id)) continue;
      if (await this.remove(id)) removed.push(id);
    }
    this.save();
    if (removed.length > 0) this.log.info('removed least recently used images', { removed, budgetBytes });
    return removed;
  }

  /** By every name it has, never forced: docker refuses while any container (even a stopped one) uses it. */
  private async remove(id: string): Promise<boolean> {
    const refs = (await this.docker(['image', 'inspect', '--format', '{{range .RepoTags}}{{println .}}{{end}}{{range .RepoDigests}}{{println .}}{{end}}', id])).stdout.map((l) => l.trim()).filter(Boolean);
    const r = await this.docker(['rmi', '--', ...(refs.length > 0 ? refs : [id])]);
    const gone = (await this.docker(['image', 'inspect', '--format', '{{.Id}}', id])).code !== 0;
    if (gone) delete this.used[id];
    else this.log.warn('could not remove an image', { id, said: r.stderr.join(' ').slice(0, 300) });
    return gone;
  }

  /** The ids of the warm images the node holds (a missing one prints nothing). */
  private async warmIds(): Promise<Set<string>> {
    const refs = this.warm();
    if (refs.length === 0) return new Set();
    return new Set((await this.docker(['image', 'inspect', '--format', '{{.Id}}', '--', ...refs])).stdout.map((l) => l.trim()).filter(Boolean));
  }

  private async imagesOfContainers(): Promise<Set<string>> {
    const ids = (await this.docker(['ps', '-aq', '--no-trunc'])).stdout.map((l) => l.trim()).filter(Boolean);
    if (ids.length === 0) return new Set();
    return new Set((await this.docker(['inspect', '--format', '{{.Image}}', ...ids])).stdout.map((l) => l.trim()).filter(Boolean));
  }

  private load(): Record<string, number> {
    try {
      const raw = JSON.parse(readFileSync(path.join(this.opts.stateDir, RECORD), 'utf8')) as unknown;
      if (!raw || typeof raw !== 'object') return {};
      return Object.fromEntries(Object.entries(raw).filter(([k, v]) => /^sha256:[0-9a-f]{64}$/.test(k) && typeof v === 'number'));
    } catch {
      return {};
    }
  }

  private save(): void {
    const file = path.join(this.opts.stateDir, RECORD);
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(this.used));
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.log.warn('could not save the image use record', { err });
    }
  }
}
