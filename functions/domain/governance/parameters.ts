// The pool parameters governance may change, their bounds, and the values in force: the deployment's
// settings overridden by enacted proposals (docs/governance.md). Pure: no I/O.
import { DomainError, type FieldError } from '../errors';
import type { LedgerSettings } from '../ledger/model';

export const GOVERNED = ['feeBps', 'rewardShareBps', 'minStakePerGpu', 'slashBps', 'checkerQuorum'] as const;
export type GovernedParameter = (typeof GOVERNED)[number];
export type Parameters = Record<GovernedParameter, number>;
export type ParameterChanges = Partial<Parameters>;
export type ParameterBounds = Record<GovernedParameter, { min: number; max: number }>;

/** checkers per node per epoch whose majority decides (the checker network, issue 19) */
export const DEFAULT_CHECKER_QUORUM = 3;

/**
 * What a proposal may set, inclusive. A deployment narrows or widens them (GOVERNANCE_BOUNDS); the point
 * is that a vote cannot take the fee to 100% or the slash to nothing.
 */
export const DEFAULT_BOUNDS: ParameterBounds = {
  feeBps: { min: 0, max: 2_000 },
  rewardShareBps: { min: 0, max: 10_000 },
  // micro-credits per GPU: up to 10,000 credits
  minStakePerGpu: { min: 0, max: 10_000_000_000 },
  slashBps: { min: 100, max: 5_000 },
  checkerQuorum: { min: 1, max: 15 },
};

/** The deployment's values: what is in force while no proposal changed them. */
export const deploymentParameters = (l: LedgerSettings): Parameters => ({
  feeBps: l.feeBps,
  rewardShareBps: l.rewardShareBps,
  minStakePerGpu: l.minStakePerGpu,
  slashBps: l.slashBps,
  checkerQuorum: DEFAULT_CHECKER_QUORUM,
});

/** The values in force: the deployment's, then each enacted change over them. */
export const inForce = (l: LedgerSettings, enacted: ParameterChanges): Parameters => ({ ...deploymentParameters(l), ...pickGoverned(enacted) });

/** The ledger settings a settlement or slash uses: the deployment's with the governed ones in force. */
export function ledgerInForce(l: LedgerSettings, enacted: ParameterChanges): LedgerSettings {
  const p = inForce(l, enacted);
  return { ...l, feeBps: p.feeBps, rewardShareBps: p.rewardShareBps, minStakePerGpu: p.minStakePerGpu, slashBps: p.slashBps };
}

export function pickGoverned(x: Record<string, unknown>): ParameterChanges {
  const out: ParameterChanges = {};
  for (const k of GOVERNED) if (typeof x[k] === 'number') out[k] = x[k] as number;
  return out;
}

/** Refuses (400) a change outside the deployment's bounds; an empty change is refused too. */
export function assertWithinBounds(changes: ParameterChanges, bounds: ParameterBounds): void {
  const errors: FieldError[] = [];
  const keys = Object.keys(changes) as GovernedParameter[];
  if (!keys.length) throw new DomainError('validation_failed', 'a proposal changes at least one parameter', [{ path: 'changes', message: `name one of ${GOVERNED.join(', ')}` }]);
  for (const k of keys) {
    const v = changes[k]!;
    const b = bounds[k];
    if (!Number.isSafeInteger(v) || v < b.min || v > b.max) errors.push({ path: `changes.${k}`, message: `must be an integer in ${b.min}..${b.max} (this deployment's bounds)` });
  }
  if (errors.length) throw new DomainError('validation_failed', 'a change is outside the bounds this deployment allows', errors);
}

/** GOVERNANCE_BOUNDS: `{"feeBps": {"min": 0, "max": 1000}, …}` over the defaults; a malformed value is a deployment fault. */
export function parseBounds(json: string | undefined): ParameterBounds {
  if (!json) return DEFAULT_BOUNDS;
  const raw = JSON.parse(json) as Record<string, { min?: number; max?: number }>;
  const out = { ...DEFAULT_BOUNDS };
  for (const k of GOVERNED) {
    if (!raw[k]) continue;
    const b = { min: raw[k].min ?? out[k].min, max: raw[k].max ?? out[k].max };
    if (!Number.isSafeInteger(b.min) || !Number.isSafeInteger(b.max) || b.min < 0 || b.min > b.max) throw new Error(`GOVERNANCE_BOUNDS.${k}: min and max must be integers, 0 <= min <= max`);
    out[k] = b;
  }
  return out;
}
