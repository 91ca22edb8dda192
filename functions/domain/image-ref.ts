// Docker's image reference grammar (distribution/reference, the one `docker pull` parses), so a job's image
// can only ever be read as an image by `docker run`: it never starts with '-' (it would be read as a flag),
// and holds no spaces, quotes or shell characters. Anchored; no backtracking-heavy nesting.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^${NAME}(?::${TAG})?(?:@${DIGEST})?$`);

/** docker's limit on the name part (before the tag and digest) */
const MAX_NAME = 255;

/** True when `image` is a reference `docker pull`/`docker run` accept, e.g. `ghcr.io/acme/train:1` or `repo@sha256:…`. */
export function isImageReference(image: string): boolean {
  if (!REFERENCE.test(image)) return false;
  const name = image.split('@')[0].replace(/:[\w][\w.-]{0,127}$/, '');
  return name.length <= MAX_NAME;
}

export const IMAGE_REFERENCE_RULE = 'must be a Docker image reference such as "ghcr.io/acme/train:1" or "name@sha256:<hex>" (lowercase repository, no leading "-")';
