// Checker licenses (docs/checkers.md, Licenses): a fixed supply minted by the admin; an owner transfers
// one or delegates it to an operator with a share of its rewards. Every change closes the license's
// current history record and opens the next, so who held and who operated which license when is a
// record, not a guess (rewards of a past epoch go to whoever held it then). Pure: no I/O.

export type LicenseStatus = 'active' | 'suspended';

export interface License {
  id: string;
  /** the account that holds it: transfers it, delegates it, votes with it */
  ownerId: string;
  /** the account that runs the checker for it (node-as-a-service); absent: the owner runs it */
  operatorId?: string;
  /** the operator's share of the license's rewards, basis points (0 without an operator) */
  rewardShareBps: number;
  /** suspended licenses get no assignments (set by checker scoring) */
  status: LicenseStatus;
  mintedAt: number;
  /** when the current owner came to hold it */
  ownerSince: number;
  /** when the current holding or delegation began (the open history record's start) */
  since: number;
  /** bumped by every change; the open history record is `version` */
  version: number;
}

export type LicenseChange = 'mint' | 'transfer' | 'delegate' | 'undelegate' | 'suspend' | 'reinstate';

/** One period of a license: who held and operated it from `from` until `to` (absent: still). */
export interface LicensePeriod {
  licenseId: string;
  /** the license's version this period began with */
  seq: number;
  ownerId: string;
  operatorId?: string;
  rewardShareBps: number;
  status: LicenseStatus;
  from: number;
  to?: number;
  /** what began this period, and who did it */
  change: LicenseChange;
  by: string;
  /** why, when the one who made the change gave a reason (an admin's reinstatement) */
  reason?: string;
}

/** The most licenses one mint request makes: one transaction of 1 + 2 × count items (DynamoDB takes 100). */
export const MAX_MINT_PER_REQUEST = 40;

export const periodOf = (l: License, change: LicenseChange, by: string): LicensePeriod => ({
  licenseId: l.id,
  seq: l.version,
  ownerId: l.ownerId,
  ...(l.operatorId ? { operatorId: l.operatorId } : {}),
  rewardShareBps: l.rewardShareBps,
  status: l.status,
  from: l.since,
  change,
  by,
});

export function transferred(l: License, to: string, at: number): License {
  // a delegation is the owner's arrangement: the new owner starts without one
  return { ...l, ownerId: to, operatorId: undefined, rewardShareBps: 0, ownerSince: at, since: at, version: l.version + 1 };
}

export function delegated(l: License, operatorId: string | null, rewardShareBps: number, at: number): License {
  return operatorId
    ? { ...l, operatorId, rewardShareBps, since: at, version: l.version + 1 }
    : { ...l, operatorId: undefined, rewardShareBps: 0, since: at, version: l.version + 1 };
}

/** The license back in the checker network after a suspension (an admin's decision). */
export function reinstated(l: License, at: number): License {
  return { ...l, status: 'active', since: at, version: l.version + 1 };
}

/** Who held and operated the license at `at`, from its history (rewards of a past epoch). */
export function periodAt(history: readonly LicensePeriod[], at: number): LicensePeriod | undefined {
  return history.find((p) => p.from <= at && (p.to === undefined || at < p.to));
}

/** A reward earned by a license, split: the operator's share to the operator, the rest to the owner. */
export function splitReward(p: Pick<LicensePeriod, 'ownerId' | 'operatorId' | 'rewardShareBps'>, amount: number): { ownerId: string; owner: number; operatorId?: string; operator: number } {
  if (!p.operatorId) return { ownerId: p.ownerId, owner: amount, operator: 0 };
  const operator = Math.floor((amount * p.rewardShareBps) / 10_000);
  return { ownerId: p.ownerId, owner: amount - operator, operatorId: p.operatorId, operator };
}
