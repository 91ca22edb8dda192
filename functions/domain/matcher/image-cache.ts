// Images a node already holds, and the scorer that prefers such a node: a job whose image is on the node
// starts without a pull (seconds to minutes for a GPU image). What a node says it holds is its provider's
// word, unchecked: the most a lie buys is this small preference (IMAGE_CACHE_WEIGHT), never a placement
// that price or reputation would refuse, and the agent pulls a missing image anyway. docs/scheduling.md.
import { isImageReference } from '../image-ref';
import type { Candidate, MatchJob } from './filters';
import type { Scorer } from './scorer';

/** how many image references a heartbeat may list (tags and digests together): bounds the node item */
export const MAX_NODE_IMAGES = 32;
/** how many images a provider may ask its node to keep pulled (PATCH /v1/nodes/{id} warmImages) */
export const MAX_WARM_IMAGES = 16;
/** longest reference kept (docker's name limit is 255; a tag or digest comes on top) */
export const MAX_IMAGE_REF_LENGTH = 400;
/**
 * The scorer's weight against price's 3 and reputation's 1 (scorers.ts). Holding the image lifts a node's
 * score by this weight's share of the total: as much as 1/12 of the candidates' price spread (0.25 / 3),
 * or a reputation difference of 0.25. A tie-breaker between comparable nodes, never a price override.
 */
export const IMAGE_CACHE_WEIGHT = 0.25;

const DEFAULT_DOMAIN = 'docker.io';

/**
 * One spelling per image, as `docker pull` resolves it: `busybox` → `docker.io/library/busybox:latest`,
 * `ghcr.io/a/b@sha256:…` → `ghcr.io/a/b@sha256:…` (a digest names content: any tag beside it is dropped).
 * Undefined for what is not a reference.
 */
export function canonicalImage(ref: string): string | undefined {
  if (ref.length > MAX_IMAGE_REF_LENGTH || !isImageReference(ref)) return undefined;
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1).toLowerCase() : undefined;
  let name = at >= 0 ? ref.slice(0, at) : ref;
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  // docker's rule: the first component is a registry when it has a '.' or a ':' or is localhost
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let domain = hasDomain ? first : DEFAULT_DOMAIN;
  let path = hasDomain ? name.slice(slash + 1) : name;
  // the grammar reads `UPPER/x` as a registry; docker does not (no '.' or ':'), and refuses the uppercase name
  if (/[A-Z]/.test(path)) return undefined;
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  return digest ? `${domain}/${path}@${digest}` : `${domain}/${path}:${tag ?? 'latest'}`;
}

/**
 * The list a node reports, as it is stored on the node: canonical, unique, sorted, bounded. Entries that
 * are not references are dropped (the heartbeat schema has refused them already).
 */
export function nodeImageList(refs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const r of refs) {
    const c = canonicalImage(r);
    if (c) out.add(c);
  }
  return [...out].sort().slice(0, MAX_NODE_IMAGES);
}

export const sameImageList = (a: readonly string[] | undefined, b: readonly string[]): boolean => !!a && a.length === b.length && a.every((x, i) => x === b[i]);

// the matcher asks for every candidate of every match: one job's image is canonicalised once
let last: { image: string; canonical: string | undefined } | undefined;
const canonicalOnce = (image: string) => (last?.image === image ? last.canonical : (last = { image, canonical: canonicalImage(image) }).canonical);

/**
 * Whether a node's stored list (canonical) holds `image`: by name and tag, or, when the image names a
 * digest, by name and that digest only (a tag can be moved to other content; a digest cannot).
 */
export function holdsImage(nodeImages: readonly string[] | undefined, image: string | undefined): boolean {
  if (!image || !nodeImages || nodeImages.length === 0) return false;
  const want = canonicalOnce(image);
  return want !== undefined && nodeImages.includes(want);
}

export const IMAGE_CACHED_REASON = 'hold the image';

export const imageCacheScorer: Scorer = {
  name: 'imageCached',
  weight: IMAGE_CACHE_WEIGHT,
  score: (j: MatchJob, n: Candidate) => (holdsImage(n.images, j.image) ? 100 : 0),
  reason: (j: MatchJob, n: Candidate) => (holdsImage(n.images, j.image) ? IMAGE_CACHED_REASON : undefined),
};
