// The matcher: filter (hard constraints), score (weighted soft preferences), rank with a seeded random
// tie-break. Pure: the caller passes candidates, randomness and gets back a ranking plus a diagnosis.
import { FILTERS, type Candidate, type Filter, type MatchJob } from './filters';
import { SCORERS, type Scorer } from './scorers';

export interface Pipeline {
  filters: readonly Filter[];
  scorers: readonly Scorer[];
}

export const defaultPipeline = (): Pipeline => ({ filters: FILTERS, scorers: SCORERS });

export interface Ranked {
  node: Candidate;
  score: number;
}

export interface MatchResult {
  ranked: Ranked[];
  /** rejections counted by reason */
  rejected: Record<string, number>;
  /** among the nodes that fit, what scorers saw in their favour, counted by reason (Scorer.reason) */
  favoured: Record<string, number>;
  considered: number;
}

export function rank(job: MatchJob, nodes: readonly Candidate[], random: () => number, pipeline: Pipeline = defaultPipeline()): MatchResult {
  const strict = rankWith(job, nodes, random, pipeline);
  if (strict.ranked.length > 0 || !pipeline.filters.some((f) => f.soft)) return strict;
  // nothing fits: relax the soft filters (e.g. a job that every node already lost may retry on one)
  const relaxed = rankWith(job, nodes, random, { ...pipeline, filters: pipeline.filters.filter((f) => !f.soft) });
  return relaxed.ranked.length > 0 ? relaxed : strict;
}

function rankWith(job: MatchJob, nodes: readonly Candidate[], random: () => number, pipeline: Pipeline): MatchResult {
  const rejected: Record<string, number> = {};
  const feasible: Candidate[] = [];
  for (const n of nodes) {
    let reason: string | undefined;
    for (const f of pipeline.filters) {
      reason = f.check(job, n);
      if (reason) break;
    }
    if (reason) rejected[reason] = (rejected[reason] ?? 0) + 1;
    else feasible.push(n);
  }
  const totalWeight = pipeline.scorers.reduce((s, x) => s + x.weight, 0) || 1;
  const favoured: Record<string, number> = {};
  const ranked = feasible.map((node) => {
    let sum = 0;
    for (const s of pipeline.scorers) {
      sum += s.weight * Math.max(0, Math.min(100, s.score(job, node, feasible)));
      const why = s.reason?.(job, node);
      if (why) favoured[why] = (favoured[why] ?? 0) + 1;
    }
    // the tie-break stays below one score point so it only orders equals
    return { node, score: sum / totalWeight + random() * 1e-3 };
  });
  ranked.sort((a, b) => b.score - a.score);
  return { ranked, rejected, favoured, considered: nodes.length };
}

/**
 * `0 of 12 nodes fit: 7 price above cap, 3 fewer than 2 free GPUs`: the consumer's pendingReason. What
 * scorers favoured (`favoured`) stays out: how many nodes hold an image tells of other tenants' jobs.
 */
export function explain(result: MatchResult): string {
  if (result.considered === 0) return 'no nodes with free capacity match the requested GPU models';
  const parts = Object.entries(result.rejected)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, count]) => `${count} ${reason}`);
  return `${result.ranked.length} of ${result.considered} nodes fit${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
