// The image pull before `docker run`, as a phase of the attempt the consumer sees (domain/job/pull.ts):
// skipped when the node holds the image (a moving tag — none, or `latest` — is pulled again, as Kubernetes
// does), preceded by a disk check on the docker data root (least recently used images go first when it is
// short: image-gc.ts), timed, and typed when it fails, with the registry's own words.
import { statfs } from 'node:fs/promises';
import type { PullFailure, PullReport } from '../../functions/domain/agent-protocol';
import { canonicalImage } from '../../functions/domain/matcher/image-cache';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log';
import type { DockerExec, ImageGc } from './image-gc';
import type { Stream } from './types';
import type { PrivateRepos } from './registry-login';

/** runs the docker CLI, streaming its lines; `started` gets the child (a stop during the pull kills it) */
export type DockerRun = (args: string[], onLine: (s: Stream, t: string) => void, started?: (c: ChildProcess) => void, env?: Record<string, string>) => Promise<{ exitCode: number | null }>;

/** The line-collecting form the inspections and the garbage collector use. */
export function collecting(run: DockerRun): DockerExec {
  return async (args) => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const r = await run(args, (s, t) => (s === 'stdout' ? stdout : stderr).push(t));
    return { code: r.exitCode, stdout, stderr };
  };
}

const GB = 1024 ** 3;

/**
 * A failed `docker pull`'s type from what docker printed. Only an explicit answer from the registry makes
 * it the consumer's (no such image, credentials refused); anything docker could not get an answer for is
 * the node's; undefined when the words match nothing known (the caller treats that as the node's fault).
 */
export function classifyPullFailure(said: readonly string[]): PullFailure | undefined {
  const t = said.join('\n').toLowerCase();
  if (/no space left on device|disk quota exceeded/.test(t)) return 'NO_DISK_SPACE';
  if (/no basic auth credentials|unauthorized|authentication required|incorrect username or password/.test(t)) return 'REGISTRY_UNAUTHORIZED';
  // no answer from the registry (or one saying it cannot serve now) comes before the words of an answer
  if (/connection refused|no such host|i\/o timeout|timeout exceeded|tls handshake timeout|network is unreachable|no route to host|server misbehaving|proxyconnect|connection reset|dial tcp|\beof\b|toomanyrequests|50[0234] [a-z ]+/.test(t)) {
    return 'REGISTRY_UNREACHABLE';
  }
  // "pull access denied ... repository does not exist or may require 'docker login'" is Docker Hub's answer for a missing repository
  if (/manifest unknown|not found|name unknown|repository does not exist|pull access denied|no matching manifest for/.test(t)) return 'IMAGE_NOT_FOUND';
  return undefined;
}

/** The registry's words: docker's lines without its own prefixes, one line, bounded. */
export function registryWords(said: readonly string[]): string {
  const words = said.map((l) => l.replace(/^(docker: )?Error response from daemon: /, '').trim()).filter(Boolean);
  return words.join(' ').slice(0, 1000);
}

/** Kubernetes' IfNotPresent/Always rule: a reference without a tag, or tagged `latest`, may name new content. */
export function movingTag(image: string): boolean {
  if (image.includes('@')) return false;
  return canonicalImage(image)?.endsWith(':latest') ?? true;
}

/**
 * The digest to show for an image: the registry's manifest digest for the reference's repository, or the
 * image ID (its config digest) when it came from no registry.
 */
export function imageDigest(image: string, id: string, repoDigests: readonly string[]): string | undefined {
  const pinned = /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1];
  if (pinned) return pinned;
  const name = (ref: string) => canonicalImage(ref)?.replace(/[:@][^/]*$/, '');
  const want = name(image);
  const match = repoDigests.find((d) => name(d) === want) ?? (repoDigests.length === 1 ? repoDigests[0] : undefined);
  const digest = match ? /@(sha256:[0-9a-f]{64})$/.exec(match)?.[1] : undefined;
  return digest ?? (/^sha256:[0-9a-f]{64}$/.test(id) ? id : undefined);
}

export interface PullerOptions {
  /** a pull starts only with this much free on the docker data root (GPUPOOL_IMAGE_MIN_FREE_GB) */
  minFreeBytes: number;
  gc?: ImageGc;
  /** the docker data root's free bytes; undefined when it cannot be told (remote engine): no check then */
  freeBytes?: () => Promise<number | undefined>;
  /** repositories once pulled with a login: always pulled again (registry-login.ts) */
  privates?: PrivateRepos;
}

export type EnsureResult =
  | { ok: true; release: () => void }
  | { ok: false; failure: PullFailure | undefined; message: string };

export interface EnsureHooks {
  /** docker's progress lines and the agent's notes, shown to the consumer as system lines */
  system: (line: string) => void;
  /** the phase, reported to the control plane */
  phase: (p: PullReport) => void;
  /** the pull's child process, so a stop during the pull can end it */
  started?: (c: ChildProcess) => void;
  /** this attempt's registry login: a Docker config directory made for it (registry-login.ts) */
  dockerConfig?: string;
}

export class ImagePuller {
  private dataRoot?: Promise<string | undefined>;
  private readonly docker: DockerExec;
  private readonly privates?: PrivateRepos;

  constructor(
    private readonly run: DockerRun,
    private readonly log: Logger,
    private readonly opts: PullerOptions,
  ) {
    this.docker = collecting(run);
    this.privates = opts.privates;
  }

  /**
   * The image ready to run, or why it is not. On success the image is pinned against garbage collection
   * until `release` (when the attempt ends).
   */
  async ensure(image: string, h: EnsureHooks): Promise<EnsureResult> {
    const held = await this.inspect(image);
    // An image pulled with a login is pulled again by every attempt, so the registry judges each attempt's
    // own credentials (none: refused) instead of the node handing one consumer's private image to another
    // (Kubernetes' AlwaysPullImages, for private repositories only)
    const privateRepo = await this.privates?.has(image);
    if (h.dockerConfig) await this.privates?.add(image);
    if (held && !movingTag(image) && !h.dockerConfig && !privateRepo) return this.ready(image, held, h, undefined);
    const room = await this.checkDisk();
    if (room) {
      if (held) return this.ready(image, held, h, undefined, `${room}; using the copy of ${image} this node holds`);
      return this.fail(h, 'NO_DISK_SPACE', room);
    }
    h.phase({ phase: 'PULLING' });
    h.system(`pulling ${image}`);
    const said: string[] = [];
    const started = Date.now();
    const { exitCode: code } = await this.run(['pull', '--', image], (s, l) => {
      if (s === 'stderr' && said.length < 20) said.push(l);
      h.system(l);
    }, h.started, h.dockerConfig ? { DOCKER_CONFIG: h.dockerConfig } : undefined);
    const seconds = (Date.now() - started) / 1000;
    // (an engine that pulled yet cannot say what: ready, without a digest)
    const pulled = code === 0 ? ((await this.inspect(image)) ?? { id: '', digests: [] }) : undefined;
    if (pulled) {
      h.system(`pulled ${image} in ${seconds.toFixed(2)} s`);
      const r = this.ready(image, pulled, h, seconds);
      // the new image may push the node over its provider's budget: least recently used unused ones go
      void this.opts.gc?.collect().catch((err: unknown) => this.log.warn('image garbage collection failed', { err }));
      return r;
    }
    const failure = code === 0 ? undefined : classifyPullFailure(said);
    const words = registryWords(said) || `docker pull exited ${code}`;
    // a moving tag the registry cannot refresh now: the copy here is what `latest` meant until now
    if (held && !privateRepo && !h.dockerConfig && failure !== 'IMAGE_NOT_FOUND' && failure !== 'REGISTRY_UNAUTHORIZED') return this.ready(image, held, h, undefined, `pull failed (${words}); using the copy of ${image} this node holds`);
    return this.fail(h, failure, words);
  }

  private ready(image: string, held: { id: string; digests: string[] }, h: EnsureHooks, seconds: number | undefined, note?: string): EnsureResult {
    if (note) h.system(note);
    const digest = imageDigest(image, held.id, held.digests);
    h.phase({ phase: 'PULLED', ...(seconds === undefined ? {} : { seconds: Math.round(seconds * 1000) / 1000 }), ...(digest ? { imageDigest: digest } : {}) });
    return { ok: true, release: (held.id && this.opts.gc?.use(held.id)) || (() => {}) };
  }

  private fail(h: EnsureHooks, failure: PullFailure | undefined, message: string): EnsureResult {
    h.system(`image pull failed${failure ? ` (${failure})` : ''}: ${message}`);
    // an untyped failure is the node's (the attempt ends lost, NODE_LOST): the registry refused nothing the consumer sent
    if (failure) h.phase({ phase: 'FAILED', failure, message });
    return { ok: false, failure, message };
  }

  private async inspect(image: string): Promise<{ id: string; digests: string[] } | undefined> {
    const r = await this.docker(['image', 'inspect', '--format', '{{.Id}}\t{{json .RepoDigests}}', '--', image]);
    const [id, json] = (r.stdout[0] ?? '').split('\t');
    if (r.code !== 0 || !id) return undefined;
    let digests: string[] = [];
    try {
      const parsed = JSON.parse(json ?? '[]') as unknown;
      if (Array.isArray(parsed)) digests = parsed.filter((x): x is string => typeof x === 'string');
    } catch {
      // no digests: an image built here
    }
    return { id, digests };
  }

  /** Undefined when there is room for a pull (after freeing some if need be); else the reason there is not. */
  private async checkDisk(): Promise<string | undefined> {
    const min = this.opts.minFreeBytes;
    if (min <= 0) return undefined;
    let free = await this.free();
    if (free === undefined || free >= min) return undefined;
    // least recently used images first, as few as it takes (the budget that frees `min - free` bytes)
    const gc = this.opts.gc;
    if (gc) {
      const used = (await gc.images()).reduce((s, i) => s + i.sizeBytes, 0);
      await gc.collect(Math.max(0, used - (min - free)));
      free = (await this.free()) ?? free;
      if (free >= min) return undefined;
    }
    return `no space left for a pull: ${(free / GB).toFixed(1)} GB free on the docker data root, the node keeps ${(min / GB).toFixed(1)} GB free`;
  }

  private async free(): Promise<number | undefined> {
    if (this.opts.freeBytes) return this.opts.freeBytes();
    this.dataRoot ??= this.docker(['info', '--format', '{{.DockerRootDir}}']).then((r) => (r.code === 0 && r.stdout[0]?.startsWith('/') ? r.stdout[0].trim() : undefined));
    const root = await this.dataRoot;
    if (!root) return undefined;
    try {
      const s = await statfs(root);
      return s.bavail * s.bsize;
    } catch {
      // the engine's data root is not visible from here (a remote engine, another mount namespace)
      return undefined;
    }
  }
}
