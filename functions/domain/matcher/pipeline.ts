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
  /** names of the filters that turned some node away (rank relaxes soft filters only when one of them did) */
  rejectedBy: ReadonlySet<string>;
}

export function rank(job: MatchJob, nodes: readonly Candidate[], random: () => number, pipeline: Pipeline = defaultPipeline()): MatchResult {
  const strict = rankWith(job, nodes, random, pipeline);
  if (strict.ranked.length > 0) return strict;
  // nothing fits: give up the soft filters that turned nodes away one at a time, the last listed (the
  // weakest preference) first, so a service replica gives up "another provider" before "another node"
  // and a retried job gives up "not a node that lost it" last
  // (a soft filter further down may hide behind the first one that turned a node away, so once any did, each is tried)
  if (!pipeline.filters.some((f) => f.soft && strict.rejectedBy.has(f.name))) return strict;
  let filters = pipeline.filters;
  for (let i = filters.length - 1; i >= 0; i--) {
    if (!filters[i].soft) continue;
    filters = filters.filter((_, k) => k !== i);
    const relaxed = rankWith(job, nodes, random, { ...pipeline, filters });
    if (relaxed.ranked.length > 0) return relaxed;
  }
  return strict;
}

function rankWith(job: MatchJob, nodes: readonly Candidate[], random: () => number, pipeline: Pipeline): MatchResult {
  const rejected: Record<string, number> = {};
  const rejectedBy = new Set<string>();
  const feasible: Candidate[] = [];
  for (const n of nodes) {
    let reason: string | undefined;
    for (const f of pipeline.filters) {
      reason = f.check(job, n);
      if (reason) {
        rejectedBy.add(f.name);
        break;
      }
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
  return { ranked, rejected, favoured, considered: nodes.length, rejectedBy };
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
