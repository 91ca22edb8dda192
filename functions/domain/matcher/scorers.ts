// Soft preferences: each scorer returns 0..100 (higher is better) and carries a weight.
import type { Candidate, MatchJob } from './filters';
import { imageCacheScorer } from './image-cache';
import type { Scorer } from './scorer';

export type { Scorer } from './scorer';

/** Great-circle distance in km. */
export function haversineKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/**
 * 100 for the lowest `of` the pool, 0 for the highest, linear between (100 when all are equal); candidates
 * without a figure are left out. No array is built: this runs for every candidate of every match.
 */
function lowestFirst(value: number, pool: readonly Candidate[], of: (c: Candidate) => number | undefined): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const c of pool) {
    const v = of(c);
    if (v === undefined) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi === lo ? 100 : (100 * (hi - value)) / (hi - lo);
}

export const SCORERS: readonly Scorer[] = [
  {
    // cheapest first: normalised against the candidate pool, reversed
    name: 'price',
    weight: 3,
    score: (_j, n, pool) => lowestFirst(n.pricePerGpuHour, pool, (c) => c.pricePerGpuHour),
  },
  { name: 'reputation', weight: 1, score: (_j, n) => 100 * n.reputation },
  {
    name: 'distance',
    weight: 1,
    score: (j, n) => {
      const near = j.placement?.near;
      if (!near || !n.location) return 50;
      // 0 km → 100, 20,000 km (antipode) → 0
      return 100 * (1 - Math.min(haversineKm(near, n.location), 20_000) / 20_000);
    },
  },
  {
    // packing: prefer nodes already partly used, keeping whole nodes free for big jobs
    name: 'packing',
    weight: 1,
    score: (j, n) => (n.totalGpus === 0 ? 0 : 100 * (1 - (n.freeGpus - j.resources.gpus) / n.totalGpus)),
  },
  { name: 'degraded', weight: 2, score: (_j, n) => (n.status === 'DEGRADED' ? 0 : 100) },
  {
    // measured latency: the checkers' smoothed probe round trip, lowest first against the pool; a node
    // not measured yet scores in the middle, so a new node is neither favoured nor shunned
    name: 'latency',
    weight: 1,
    score: (_j, n, pool) => {
      const rtt = n.probe?.rttMs;
      if (rtt === undefined) return 50;
      return lowestFirst(rtt, pool, (c) => c.probe?.rttMs);
    },
  },
  // a node that already holds the job's image starts it without a pull: a tie-breaker-sized bonus (image-cache.ts)
  imageCacheScorer,
];
