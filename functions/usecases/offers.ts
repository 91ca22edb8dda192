// Free capacity as a renter sees it: per GPU model, VRAM and region, the free GPUs, the lowest and
// median price and the median reputation, and the runtime the nodes isolate jobs with (docker: a
// container per job; process: jobs share the host, offered only where the deployment allows it).
// With `image`, each offer says on how many of its nodes the image is cached, and `cached=true` keeps only
// those nodes. Only images a node's provider advertises (its warmImages) count: the full list a node
// reports also names the images other tenants ran there, which a consumer must not learn by asking.
import * as z from 'zod';
import { IMAGE_REFERENCE_RULE, isImageReference } from '../domain/image-ref';
import { runtimeOf } from '../domain/matcher/filters';
import { holdsImage, MAX_IMAGE_REF_LENGTH, nodeImageList } from '../domain/matcher/image-cache';
import type { Node } from '../domain/model';
import type { Deps } from './deps';

export const OffersQuerySchema = z.strictObject({
  gpuModel: z.string().min(1).max(32).regex(/^[A-Za-z0-9-]+$/).optional(),
  gpus: z.coerce.number().int().min(1).max(64).optional(),
  region: z.string().min(1).max(64).regex(/^[a-z0-9-]+$/).optional(),
  maxPrice: z.coerce.number().int().min(0).max(1_000_000_000).optional(),
  image: z.string().min(1).max(MAX_IMAGE_REF_LENGTH).refine(isImageReference, IMAGE_REFERENCE_RULE).optional(),
  cached: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
}).refine((q) => !q.cached || q.image, { message: 'cached=true needs an image', path: ['cached'] });

/** Whether the node holds `image` (its agent's word) and its provider advertises it as warm. */
const advertisesCached = (n: Pick<Node, 'images' | 'warmImages'>, image: string | undefined): boolean =>
  !!n.warmImages?.length && holdsImage(n.images, image) && holdsImage(nodeImageList(n.warmImages), image);

/** starts older than this do not count in an offer's p50SubmitToRunningMs */
export const START_WINDOW_MS = 24 * 3600_000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : 0;
};

export async function offers(d: Deps, q: z.infer<typeof OffersQuerySchema>) {
  const nodes = (await d.nodes.available(q.gpuModel ? [q.gpuModel] : undefined, 200)).filter(
    (n) => (d.settings.allowProcessRuntime || runtimeOf(n) === 'docker') && (!q.gpus || n.freeGpus >= q.gpus) && (!q.region || n.region === q.region) && (q.maxPrice === undefined || n.pricePerGpuHour <= q.maxPrice) && (!q.cached || advertisesCached(n, q.image)),
  );
  const groups = new Map<string, typeof nodes>();
  for (const n of nodes) {
    const k = `${n.gpuModel}|${n.vramGb}|${n.region}|${runtimeOf(n)}`;
    groups.set(k, [...(groups.get(k) ?? []), n]);
  }
  const samples = await d.jobs.startStats.samples(nodes.map((n) => n.id));
  const since = d.now() - START_WINDOW_MS;
  return [...groups.values()].map((g) => {
    const waits = g.flatMap((n) => samples.get(n.id) ?? []).filter((x) => x.at >= since).map((x) => x.ms);
    return {
      gpuModel: g[0].gpuModel,
      vramGb: g[0].vramGb,
      region: g[0].region,
      runtime: runtimeOf(g[0]),
      nodes: g.length,
      freeGpus: g.reduce((s, n) => s + n.freeGpus, 0),
      minPricePerGpuHour: Math.min(...g.map((n) => n.pricePerGpuHour)),
      medianPricePerGpuHour: median(g.map((n) => n.pricePerGpuHour)),
      medianReputation: median(g.map((n) => n.reputation)),
      ...(q.image ? { imageCachedNodes: g.filter((n) => advertisesCached(n, q.image)).length } : {}),
      // how long jobs recently waited from submit to running on these nodes (null: none in the window)
      recentStarts: waits.length,
      p50SubmitToRunningMs: waits.length ? median(waits) : null,
    };
  });
}
