// How the network scores its checkers each epoch (docs/checkers.md, Scoring and rewards): every
// assignment ends as agree, disagree, late or missing against the node's verdict; a report whose
// signature did not verify counts against the checker too. Standing is a moving average of the share of
// its assignments it got right; disagreeing with the verdict on at least half of its decided reports is a
// strike, and SUSPEND_AFTER_STRIKES strikes in a row suspend the license from assignments. Rewards are the
// epoch's budget shared in proportion to agreeing on-time reports. Pure.
import type { NodeReport, NodeVerdict } from './quorum';

export type AssignmentOutcome = 'agree' | 'disagree' | 'late' | 'missing' | 'undecided';

export interface EpochScore {
  licenseId: string;
  assigned: number;
  agreed: number;
  disagreed: number;
  late: number;
  missing: number;
  /** reports refused because the signature did not verify */
  badSignatures: number;
  /** no verdict to compare with (no quorum, no operator result) */
  undecided: number;
}

export interface Standing {
  /** ∈ [0, 1]: 1 is a checker that got every assignment right */
  standing: number;
  /** epochs in a row with a strike */
  strikes: number;
}

export const INITIAL_STANDING: Standing = { standing: 1, strikes: 0 };
/** weight of the newest epoch in the standing */
export const STANDING_ALPHA = 0.3;
/** strikes in a row that suspend a license from assignments */
export const SUSPEND_AFTER_STRIKES = 3;

/** What one assignment came to. */
export function outcomeOf(report: NodeReport | undefined, verdict: Pick<NodeVerdict, 'pass'>): AssignmentOutcome {
  if (!report) return 'missing';
  if (report.late) return 'late';
  if (verdict.pass === undefined) return 'undecided';
  return report.ok === verdict.pass ? 'agree' : 'disagree';
}

export const emptyScore = (licenseId: string): EpochScore => ({ licenseId, assigned: 0, agreed: 0, disagreed: 0, late: 0, missing: 0, badSignatures: 0, undecided: 0 });

export function addOutcome(s: EpochScore, o: AssignmentOutcome): EpochScore {
  const key = ({ agree: 'agreed', disagree: 'disagreed', late: 'late', missing: 'missing', undecided: 'undecided' } as const)[o];
  return { ...s, assigned: s.assigned + 1, [key]: s[key] + 1 };
}

/** A strike: it disagreed with the verdict on at least half of the reports that had one. */
export const isStrike = (s: EpochScore): boolean => s.disagreed > 0 && s.disagreed * 2 >= s.agreed + s.disagreed;

/** Standing after one epoch's score; an epoch with nothing assigned and nothing refused leaves it as it was. */
export function nextStanding(prev: Standing, s: EpochScore): Standing {
  const counted = s.assigned - s.undecided + s.badSignatures;
  if (counted <= 0) return prev;
  const x = s.agreed / counted;
  const standing = Math.round((prev.standing + STANDING_ALPHA * (x - prev.standing)) * 10_000) / 10_000;
  return { standing, strikes: isStrike(s) ? prev.strikes + 1 : 0 };
}

export const shouldSuspend = (s: Standing): boolean => s.strikes >= SUSPEND_AFTER_STRIKES;

/** What a license forfeits for an epoch: each disagreeing report and each refused signature costs `perReport`. */
export const penaltyOf = (s: Pick<EpochScore, 'disagreed' | 'badSignatures'>, perReport: number): number => (s.disagreed + s.badSignatures) * Math.max(0, perReport);

/**
 * The epoch's budget (micro-credits) shared by agreeing on-time reports: each license gets
 * floor(budget × its agreed / all agreed); the remainder stays in the pool. Licenses with none get nothing.
 */
export function shareRewards(budget: number, scores: readonly Pick<EpochScore, 'licenseId' | 'agreed'>[]): Map<string, number> {
  const total = scores.reduce((a, s) => a + s.agreed, 0);
  const out = new Map<string, number>();
  if (total <= 0 || budget <= 0) return out;
  for (const s of scores) if (s.agreed > 0) out.set(s.licenseId, Math.floor((budget * s.agreed) / total));
  return out;
}
