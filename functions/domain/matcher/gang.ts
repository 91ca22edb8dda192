// Picking the nodes of a gang: the same filters and scorers as for one node, then the best `nodes`
// distinct nodes that other ranks can reach. Pure, like pipeline.ts.
import type { MatchJob, Candidate } from './filters';
import { defaultPipeline, explain, rank } from './pipeline';

/**
 * Where the other ranks reach a node: the host of the probe URL its agent registered (the address the
 * checker already verifies it answers on). A node without one cannot host a rank.
 */
export function nodeAddress(n: { probeUrl?: string }): string | undefined {
  if (!n.probeUrl || !URL.canParse(n.probeUrl)) return undefined;
  return new URL(n.probeUrl).hostname.replace(/^\[(.*)\]$/, '$1') || undefined;
}

export type GangPick<N> = { nodes: (N & { address: string })[]; reason?: undefined } | { nodes?: undefined; reason: string };

/** The best `job.resources.nodes` distinct nodes, ranks in score order (rank 0 the best), or why not. */
export function pickGang<N extends Candidate & { probeUrl?: string }>(job: MatchJob, nodes: readonly N[], random: () => number): GangPick<N> {
  const size = job.resources.nodes;
  const reachable = nodes.filter((n) => nodeAddress(n));
  let result = rank(job, reachable, random);
  if (result.ranked.length < size) {
    // like rank() does for one node: soft preferences (nodes that failed the job before) give way
    const strict = defaultPipeline();
    const relaxed = rank(job, reachable, random, { ...strict, filters: strict.filters.filter((f) => !f.soft) });
    if (relaxed.ranked.length > result.ranked.length) result = relaxed;
  }
  if (result.ranked.length >= size) {
    const byId = new Map(reachable.map((n) => [n.id, n]));
    return { nodes: result.ranked.slice(0, size).map((r) => ({ ...byId.get(r.node.id)!, address: nodeAddress(byId.get(r.node.id)!)! })) };
  }
  const unreachable = nodes.length - reachable.length;
  return { reason: `a gang of ${size} needs ${size} nodes: ${explain(result)}${unreachable ? `; ${unreachable} without an address for peers` : ''}` };
}
