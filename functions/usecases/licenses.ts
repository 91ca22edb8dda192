// Checker licenses (docs/checkers.md, Licenses): the admin mints from a fixed supply; the owner transfers
// or delegates; holders and operators list theirs. Strangers get "not found", as for every other object.
import { conflict, DomainError, forbidden, notFound } from '../domain/errors';
import { SUSPEND_AFTER_STRIKES } from '../domain/checker/checker-standing';
import { delegated, periodOf, reinstated, transferred, type License, type LicensePeriod } from '../domain/governance/licenses';
import type { Caller } from '../domain/model';
import { governanceOf } from './governance-settings';
import { assertAdmin } from './accounts';
import { network } from './checker-network';
import type { Deps } from './deps';
import { isLostRace, LostRaceError, retrying } from './retry';

export interface LicenseView {
  id: string;
  owner: string;
  operator: string | null;
  rewardShareBps: number;
  status: License['status'];
  mintedAt: number;
  ownerSince: number;
  since: number;
  /** what the caller is to it */
  role?: 'owner' | 'operator';
}

const view = (l: License, caller?: Caller): LicenseView => ({
  id: l.id,
  owner: l.ownerId,
  operator: l.operatorId ?? null,
  rewardShareBps: l.rewardShareBps,
  status: l.status,
  mintedAt: l.mintedAt,
  ownerSince: l.ownerSince,
  since: l.since,
  ...(caller && caller.accountId === l.ownerId ? { role: 'owner' as const } : caller && caller.accountId === l.operatorId ? { role: 'operator' as const } : {}),
});

/** Another party a license may go to: an existing consumer or provider account (not an admin, not the system's). */
async function assertParty(d: Deps, accountId: string, what: string): Promise<void> {
  const a = await d.accounts.get(accountId);
  if (!a || a.role === 'admin') throw new DomainError('validation_failed', `${what} must be an existing consumer or provider account`, [{ path: what, message: 'no such account' }]);
}

export async function mintLicenses(d: Deps, caller: Caller, body: { account: string; count: number }) {
  assertAdmin(caller, 'mints licenses');
  await assertParty(d, body.account, 'account');
  const at = d.now();
  const licenses: License[] = Array.from({ length: body.count }, () => ({
    id: `lic_${d.newId()}`,
    ownerId: body.account,
    rewardShareBps: 0,
    status: 'active' as const,
    mintedAt: at,
    ownerSince: at,
    since: at,
    version: 1,
  }));
  const periods = licenses.map((l) => periodOf(l, 'mint', 'admin'));
  const supply = governanceOf(d.settings).licenseSupply;
  if (!(await d.governance.mint(licenses, periods, supply))) {
    const minted = await d.governance.minted();
    throw conflict(`the license supply is ${supply}: ${minted} minted, ${Math.max(0, supply - minted)} left, ${body.count} asked`);
  }
  return { items: licenses.map((l) => view(l)), supply };
}

/** Licenses the caller holds or operates (the admin: by id only, GET /v1/licenses/{id}). */
export async function listLicenses(d: Deps, caller: Caller) {
  const [held, operated] = await Promise.all([d.governance.licensesOf(caller.accountId, 'owner'), d.governance.licensesOf(caller.accountId, 'operator')]);
  const byId = new Map<string, License>();
  for (const l of [...held, ...operated]) byId.set(l.id, l);
  return { items: [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((l) => view(l, caller)), nextCursor: null };
}

/** One license and its history, for its owner, its operator and the admin. */
export async function getLicense(d: Deps, caller: Caller, id: string): Promise<{ license: LicenseView; history: LicensePeriod[] }> {
  const l = await d.governance.license(id);
  if (!l || (caller.role !== 'admin' && caller.accountId !== l.ownerId && caller.accountId !== l.operatorId)) throw notFound('license');
  return { license: view(l, caller), history: await d.governance.history(id) };
}

/** The license as its owner may change it: strangers get 404, its operator 403. */
async function ownedBy(d: Deps, caller: Caller, id: string): Promise<License> {
  const l = await d.governance.license(id);
  if (!l || (caller.accountId !== l.ownerId && caller.accountId !== l.operatorId)) throw notFound('license');
  if (caller.accountId !== l.ownerId) throw forbidden('only the license\'s owner may transfer or delegate it');
  return l;
}

async function change(d: Deps, caller: Caller, l: License, after: License, kind: LicensePeriod['change']): Promise<LicenseView> {
  const at = after.since;
  // the read version is the condition: of two changes made from the same read, exactly one is written
  if (!(await d.governance.change(l, after, periodOf(after, kind, caller.accountId), at))) throw conflict('the license changed concurrently; read it again');
  return view(after, caller);
}

export async function transferLicense(d: Deps, caller: Caller, id: string, to: string): Promise<LicenseView> {
  const l = await ownedBy(d, caller, id);
  if (to === l.ownerId) throw new DomainError('validation_failed', 'the license is already held by that account', [{ path: 'to', message: 'the current owner' }]);
  await assertParty(d, to, 'to');
  return change(d, caller, l, transferred(l, to, d.now()), 'transfer');
}

export async function delegateLicense(d: Deps, caller: Caller, id: string, body: { operator: string | null; rewardShareBps: number }): Promise<LicenseView> {
  const l = await ownedBy(d, caller, id);
  if (body.operator === l.ownerId) throw new DomainError('validation_failed', 'the owner runs its license without delegating it', [{ path: 'operator', message: 'the owner itself' }]);
  if (body.operator) await assertParty(d, body.operator, 'operator');
  else if (!l.operatorId) throw conflict('the license is not delegated');
  return change(d, caller, l, delegated(l, body.operator, body.operator ? body.rewardShareBps : 0, d.now()), body.operator ? 'delegate' : 'undelegate');
}

/**
 * POST /v1/licenses/{id}/reinstate (admin): a license the checker network suspended for repeated
 * disagreement is active again from the next epoch's roster, without the strikes that suspended it. The
 * history records who did it, when and why. Repeating the request that reinstated it answers the same and
 * writes nothing; a license that is not suspended (and was not just reinstated) is a 409.
 */
export async function reinstateLicense(d: Deps, caller: Caller, id: string, body: { reason?: string }): Promise<{ license: LicenseView; history: LicensePeriod[] }> {
  assertAdmin(caller, 'reinstates a suspended license');
  return retrying(
    async () => {
      const l = await d.governance.license(id);
      if (!l) throw notFound('license');
      if (l.status !== 'suspended') {
        const history = await d.governance.history(id);
        if (history.find((p) => p.seq === l.version)?.change !== 'reinstate') throw conflict(`license ${id} is not suspended`);
        // a retry (or a second admin racing the first): finish what the reinstatement does, write no record
        await network(d).clearSuspendingStrikes(id, SUSPEND_AFTER_STRIKES);
        return { license: view(l, caller), history };
      }
      const after = reinstated(l, d.now());
      const period: LicensePeriod = { ...periodOf(after, 'reinstate', caller.accountId), ...(body.reason ? { reason: body.reason } : {}) };
      // conditioned on the version read: a suspension or another change in between makes this a retry
      if (!(await d.governance.change(l, after, period, after.since))) throw new LostRaceError('the license changed concurrently; read it again');
      await network(d).clearSuspendingStrikes(id, SUSPEND_AFTER_STRIKES);
      return { license: view(after, caller), history: await d.governance.history(id) };
    },
    { retries: 3, on: isLostRace },
  );
}
