// The images this node holds, for the heartbeat (the control plane prefers a node that holds a job's image,
// functions/domain/matcher/image-cache.ts), and the provider's warm images (PATCH /v1/nodes/{id}
// warmImages, learned from heartbeat answers), pulled in the background one at a time so a job that
// needs one starts without a pull.
import { spawn } from 'node:child_process';
import { holdsImage, MAX_NODE_IMAGES, nodeImageList } from '../../functions/domain/matcher/image-cache';
import { isImageReference } from '../../functions/domain/image-ref';
import type { Logger } from '../log';
import { splitLines } from './lines';

/** how long a listing is fresh: images change with pulls, which also refresh it */
const FRESH_MS = 30_000;
/** a heartbeat waits at most this long for a listing; it sends the last one otherwise */
const LIST_WAIT_MS = 2_000;
/** a warm image whose pull failed is tried again after this long */
const RETRY_FAILED_MS = 5 * 60_000;
const LIST_FORMAT = '{{.Repository}}\t{{.Tag}}\t{{.Digest}}';

/**
 * `docker image ls --digests` lines as references: `repo:tag` and `repo@digest` for each image, `<none>`
 * parts left out, canonical, at most MAX_NODE_IMAGES (docker lists the newest first), so the heartbeat
 * never carries what the control plane would refuse.
 */
export function parseImageList(lines: readonly string[]): string[] {
  const refs: string[] = [];
  for (const line of lines) {
    const [repo, tag, digest] = line.split('\t');
    if (!repo || repo === '<none>') continue;
    if (tag && tag !== '<none>') refs.push(`${repo}:${tag}`);
    if (digest && digest !== '<none>') refs.push(`${repo}@${digest}`);
    if (refs.length >= 4 * MAX_NODE_IMAGES) break;
  }
  const out: string[] = [];
  // keep docker's order (newest first) while canonicalising and dropping duplicates
  for (const r of refs) {
    const [c] = nodeImageList([r]);
    if (c && !out.includes(c)) out.push(c);
    if (out.length >= MAX_NODE_IMAGES) break;
  }
  return out.sort();
}

export interface NodeImagesOptions {
  /** the docker CLI; DOCKER_HOST in the agent's environment says which engine */
  docker?: string;
  /** called when a listing differs from the previous one (the agent beats at once) */
  onChange?: () => void;
  now?: () => number;
}

export class NodeImages {
  private listed?: { at: number; images: string[] };
  private listing?: Promise<string[] | undefined>;
  private warm: string[] = [];
  private readonly failedAt = new Map<string, number>();
  private pulling?: Promise<void>;
  private stopped = false;
  private readonly docker: string;
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    private readonly opts: NodeImagesOptions = {},
  ) {
    this.docker = opts.docker ?? 'docker';
    this.now = opts.now ?? Date.now;
  }

  /** The images held, for a heartbeat: refreshed when stale, waiting at most LIST_WAIT_MS; never rejects. */
  async current(): Promise<string[] | undefined> {
    if (!this.listed || this.now() - this.listed.at > FRESH_MS) {
      const fresh = this.refresh();
      await Promise.race([fresh, new Promise((r) => setTimeout(r, LIST_WAIT_MS).unref())]);
    }
    return this.listed?.images;
  }

  /** Lists the images now (one listing at a time). */
  refresh(): Promise<string[] | undefined> {
    this.listing ??= this.list().finally(() => (this.listing = undefined));
    return this.listing;
  }

  /**
   * The provider's warm list, from a heartbeat answer: the ones this node lacks are pulled in the
   * background, one at a time; a failed one waits RETRY_FAILED_MS before it is tried again.
   */
  keepWarm(refs: readonly string[]): void {
    // the control plane validated them; an agent never hands docker what it could read as a flag
    this.warm = refs.filter((r) => isImageReference(r)).slice(0, 16);
    if (!this.pulling && !this.stopped) this.pulling = this.pullMissing().finally(() => (this.pulling = undefined));
  }

  /** The provider's warm list as last heard (image GC keeps these). */
  warmList(): readonly string[] {
    return this.warm;
  }

  stop(): void {
    this.stopped = true;
  }

  private async pullMissing(): Promise<void> {
    // each image once per round: one that pulls yet is not listed under its name is not pulled again and again
    const tried = new Set<string>();
    for (;;) {
      const held = (await this.current()) ?? [];
      const now = this.now();
      const next = this.warm.find((r) => !tried.has(r) && !holdsImage(held, r) && now - (this.failedAt.get(r) ?? -Infinity) >= RETRY_FAILED_MS);
      if (!next || this.stopped) return;
      tried.add(next);
      const lines: string[] = [];
      const r = await this.exec(['pull', '--', next], (l) => lines.length < 20 && lines.push(l));
      if (r.code === 0) {
        this.failedAt.delete(next);
        this.log.info('pulled a warm image', { image: next });
      } else {
        this.failedAt.set(next, now);
        this.log.warn('could not pull a warm image; trying again later', { image: next, exitCode: r.code, said: lines.slice(-3).join(' ').slice(0, 500) });
      }
      await this.refresh();
    }
  }

  private async list(): Promise<string[] | undefined> {
    const lines: string[] = [];
    const r = await this.exec(['image', 'ls', '--digests', '--format', LIST_FORMAT], (l, s) => s === 'stdout' && lines.push(l));
    if (r.code !== 0) {
      this.log.warn('docker image ls failed; the heartbeat keeps the last list', { exitCode: r.code, error: r.error });
      return this.listed?.images;
    }
    const images = parseImageList(lines);
    const before = this.listed?.images;
    this.listed = { at: this.now(), images };
    if (before && (before.length !== images.length || before.some((x, i) => x !== images[i]))) this.opts.onChange?.();
    return images;
  }

  private exec(args: string[], onLine: (line: string, stream: 'stdout' | 'stderr') => unknown): Promise<{ code: number | null; error?: string }> {
    const child = spawn(this.docker, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = Promise.all([splitLines(child.stdout, (t) => onLine(t, 'stdout')), splitLines(child.stderr, (t) => onLine(t, 'stderr'))]);
    return new Promise<{ code: number | null; error?: string }>((resolve) => {
      child.once('error', (err) => resolve({ code: null, error: err.message }));
      child.once('close', (code) => resolve({ code }));
    }).then(async (r) => (await output, r));
  }
}
