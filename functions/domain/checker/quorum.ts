// A node's verdict for one checker epoch from its assigned checkers' reports (docs/checkers.md, Quorum):
// a strict majority of on-time reports decides pass or fail once enough of them came in, latency is their
// median; with too few reports, or a tie, the operator's own checker decides (baseline and tie-breaker).
// Failing a node needs at least QUORUM_MIN reports saying so and outnumbering the rest, so one checker can
// never fail a node alone. Pure.

export interface NodeReport {
  licenseId: string;
  ok: boolean;
  rttMs?: number;
  /** arrived after the epoch ended: scored, never counted */
  late?: boolean;
}

/** The operator's checker in the epoch: did its probes find the node healthy? Absent: it did not probe it. */
export interface OperatorResult {
  ok: boolean;
  rttMs?: number;
}

export type DecidedBy = 'quorum' | 'operator' | 'none';

export interface NodeVerdict {
  /** undefined: nobody decided (no quorum, no operator result): the node's reputation does not move */
  pass?: boolean;
  decidedBy: DecidedBy;
  passVotes: number;
  failVotes: number;
  /** median of the counted reports' round trips (the operator's when it decided alone) */
  rttMs?: number;
}

/** Never fewer than two reports make a quorum, whatever k is. */
export const QUORUM_MIN = 2;

/** On-time reports needed before the checkers' majority decides: a strict majority of k, at least QUORUM_MIN. */
export const quorumOf = (k: number): number => Math.max(QUORUM_MIN, Math.floor(Math.max(0, k) / 2) + 1);

export function median(xs: readonly number[]): number | undefined {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

/**
 * The verdict from the reports of the node's assigned checkers (`reports` holds only those; one per
 * checker). Late reports are ignored here.
 */
export function nodeVerdict(reports: readonly NodeReport[], k: number, operator: OperatorResult | undefined): NodeVerdict {
  const counted = reports.filter((r) => !r.late);
  const passVotes = counted.filter((r) => r.ok).length;
  const failVotes = counted.length - passVotes;
  if (counted.length >= quorumOf(k) && passVotes !== failVotes) {
    const pass = passVotes > failVotes;
    return { pass, decidedBy: 'quorum', passVotes, failVotes, ...rtt(median(counted.filter((r) => r.ok === pass && r.rttMs !== undefined).map((r) => r.rttMs!))) };
  }
  if (operator) return { pass: operator.ok, decidedBy: 'operator', passVotes, failVotes, ...rtt(operator.rttMs) };
  return { decidedBy: 'none', passVotes, failVotes };
}

const rtt = (v: number | undefined) => (v === undefined ? {} : { rttMs: v });
