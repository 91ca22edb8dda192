// The image-cache scorer: a node holding the job's image ranks above an otherwise equal one, and the bonus
// is tie-breaker-sized: it never beats a cheaper node by more than 1/12 of the candidates' price spread.
import { describe, expect, it } from 'vitest';
import type { Candidate, MatchJob } from '../../functions/domain/matcher/filters';
import { canonicalImage, holdsImage, IMAGE_CACHE_WEIGHT, nodeImageList } from '../../functions/domain/matcher/image-cache';
import { explain, rank } from '../../functions/domain/matcher/pipeline';
import { SCORERS } from '../../functions/domain/matcher/scorers';

const IMAGE = 'ghcr.io/acme/train:1';
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const node = (over: Partial<Candidate>): Candidate => ({
  id: 'n',
  providerId: 'p',
  status: 'ONLINE',
  gpuModel: 'A100',
  vramGb: 80,
  freeGpus: 2,
  totalGpus: 2,
  pricePerGpuHour: 2_000_000,
  region: 'eu-west',
  reputation: 0.5,
  ...over,
});
const job = (over: Partial<MatchJob> = {}): MatchJob => ({ id: 'j', accountId: 'c', resources: { gpus: 1, nodes: 1 }, attempts: [], image: IMAGE, ...over });
const held = (...refs: string[]) => nodeImageList(refs);
const zero = () => 0;

describe('image references as docker resolves them', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['docker.io/library/busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['acme/train', 'docker.io/acme/train:latest'],
    ['ghcr.io/acme/train:1', 'ghcr.io/acme/train:1'],
    ['localhost:5000/x/y:2', 'localhost:5000/x/y:2'],
    ['127.0.0.1:5000/x', '127.0.0.1:5000/x:latest'],
    [`busybox:1@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    ['-rf', undefined],
    ['UPPER/case', undefined],
  ])('%s → %s', (ref, canonical) => expect(canonicalImage(ref)).toBe(canonical));

  it('matches by name and tag, and by digest only when the job names one', () => {
    const list = held('busybox:1', `ghcr.io/acme/train@${DIGEST}`, 'ghcr.io/acme/train:1');
    expect(holdsImage(list, 'docker.io/library/busybox:1')).toBe(true);
    expect(holdsImage(list, 'busybox')).toBe(false); // :latest is another tag
    expect(holdsImage(list, `ghcr.io/acme/train:2@${DIGEST}`)).toBe(true); // the digest decides, not the tag
    expect(holdsImage(held('ghcr.io/acme/train:1'), `ghcr.io/acme/train:1@${DIGEST}`)).toBe(false); // a tag may point elsewhere
    expect(holdsImage(held(`ghcr.io/other/train@${DIGEST}`), `ghcr.io/acme/train@${DIGEST}`)).toBe(false); // docker pulls by name@digest
    expect(holdsImage(list, undefined)).toBe(false);
    expect(holdsImage(undefined, IMAGE)).toBe(false);
  });

  it('stores a bounded, sorted, unique list and drops what is not a reference', () => {
    expect(held('b:1', 'a:1', 'docker.io/library/a:1', '--privileged')).toEqual(['docker.io/library/a:1', 'docker.io/library/b:1']);
    expect(held(...Array.from({ length: 100 }, (_, i) => `img${i}:1`))).toHaveLength(32);
  });
});

describe('the image-cache scorer', () => {
  it('is registered with the documented weight, below price and reputation', () => {
    const s = SCORERS.find((x) => x.name === 'imageCached')!;
    expect(s.weight).toBe(IMAGE_CACHE_WEIGHT);
    expect(IMAGE_CACHE_WEIGHT).toBeLessThan(SCORERS.find((x) => x.name === 'price')!.weight);
    expect(IMAGE_CACHE_WEIGHT).toBeLessThan(SCORERS.find((x) => x.name === 'reputation')!.weight);
  });

  it('ranks a node holding the image above an otherwise equal one, and counts it in the diagnosis (not in the pendingReason)', () => {
    for (const order of [0, 1]) {
      const nodes = [node({ id: 'cold' }), node({ id: 'warm', images: held(IMAGE) })];
      if (order) nodes.reverse();
      const r = rank(job(), nodes, Math.random);
      expect(r.ranked.map((x) => x.node.id)).toEqual(['warm', 'cold']);
      expect(r.favoured).toEqual({ 'hold the image': 1 });
      // the consumer's pendingReason never says it: how many nodes hold an image tells of other tenants' jobs
      expect(explain(r)).toBe('2 of 2 nodes fit');
    }
    // no image (process runtime), or another image: no preference, no reason
    const r = rank(job({ image: undefined }), [node({ id: 'a', images: held(IMAGE) }), node({ id: 'b' })], zero);
    expect(r.favoured).toEqual({});
  });

  it('never beats a cheaper node by more than 1/12 of the candidates\' price spread', () => {
    // spread 1,200,000 (1.0 → 2.2 credits): the bound is 100,000
    const pool = (warmPrice: number) => [node({ id: 'cheap', pricePerGpuHour: 1_000_000 }), node({ id: 'warm', pricePerGpuHour: warmPrice, images: held(IMAGE) }), node({ id: 'dear', pricePerGpuHour: 2_200_000 })];
    expect(rank(job(), pool(1_090_000), zero).ranked[0].node.id).toBe('warm');
    expect(rank(job(), pool(1_110_000), zero).ranked[0].node.id).toBe('cheap');
    // two nodes only: any price gap is the whole spread, so the cheaper one always wins
    expect(rank(job(), [node({ id: 'cheap', pricePerGpuHour: 1_000_000 }), node({ id: 'warm', pricePerGpuHour: 1_000_001, images: held(IMAGE) })], zero).ranked[0].node.id).toBe('cheap');
  });

  it('holds the bound over random pools (property)', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 2000; round++) {
      const prices = Array.from({ length: 2 + Math.floor(rnd() * 6) }, () => 1_000_000 + Math.floor(rnd() * 3_000_000));
      const nodes = prices.map((p, i) => node({ id: `n${i}`, pricePerGpuHour: p, ...(rnd() < 0.5 ? { images: held(IMAGE) } : {}) }));
      const spread = Math.max(...prices) - Math.min(...prices);
      const order = rank(job(), nodes, rnd).ranked.map((r) => r.node);
      for (let i = 0; i < order.length; i++) {
        for (let k = i + 1; k < order.length; k++) {
          // a node ranked above a cheaper one: only by the bonus, and only within the bound
          const [above, below] = [order[i], order[k]];
          if (above.pricePerGpuHour > below.pricePerGpuHour) {
            expect(above.images && !below.images).toBe(true);
            expect(above.pricePerGpuHour - below.pricePerGpuHour).toBeLessThanOrEqual(spread * (IMAGE_CACHE_WEIGHT / 3) + 1);
          }
        }
      }
    }
  });

  it('reputation outweighs it: 0.25 of reputation is worth as much as the image', () => {
    const nodes = [node({ id: 'trusted', reputation: 0.8 }), node({ id: 'warm', reputation: 0.5, images: held(IMAGE) })];
    expect(rank(job(), nodes, zero).ranked[0].node.id).toBe('trusted');
    const close = [node({ id: 'trusted', reputation: 0.7 }), node({ id: 'warm', reputation: 0.5, images: held(IMAGE) })];
    expect(rank(job(), close, zero).ranked[0].node.id).toBe('warm');
  });
});
