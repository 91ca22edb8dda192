// Figures of the scores API: uptime as the share of good probes in a window, and round-trip percentiles.

export interface ResultRow {
  at: number;
  kind: string;
  ok: boolean;
  rttMs?: number;
}

/** Share of probes after `since` that were good, rounded to 4 places; null when there were none. */
export function uptime(rows: readonly ResultRow[], since: number): number | null {
  let total = 0;
  let ok = 0;
  for (const r of rows) {
    if (r.kind !== 'probe' || r.at <= since) continue;
    total++;
    if (r.ok) ok++;
  }
  return total === 0 ? null : Math.round((ok / total) * 10_000) / 10_000;
}

/** Nearest-rank percentile (p in 0..100) of a list; null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** p50 and p95 round trip of the good probes after `since`, ms. */
export function rttPercentiles(rows: readonly ResultRow[], since: number): { p50: number | null; p95: number | null } {
  const rtts = rows.filter((r) => r.kind === 'probe' && r.ok && r.at > since && typeof r.rttMs === 'number').map((r) => r.rttMs!);
  return { p50: percentile(rtts, 50), p95: percentile(rtts, 95) };
}
