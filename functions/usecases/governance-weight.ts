// Voting weight (docs/governance.md, Weights): whole credits of stake (free + locked for nodes) the account
// had at the proposal's creation, plus its licenses held since before then × the votes per license.
// The stake is read back from the ledger (the balance now, less every entry after the snapshot), so
// credits staked, unstaked or moved after a proposal was made cannot vote on it again.
import { balanceDeltas } from '../domain/ledger/postings';
import { stakeVotes } from '../domain/governance/proposals';
import type { Deps } from './deps';
import { governanceOf } from './governance-settings';
import { retrying } from './retry';

const STAKE = (b: Partial<Record<string, number>>) => (b.staked ?? 0) + (b.locked ?? 0);
const PAGE = 100;

/** Micro-credits of stake (staked + locked) the account had at `at`. */
export async function stakeAt(d: Deps, accountId: string, at: number): Promise<number> {
  // the balance and the entries are two reads: a posting landing between them would be counted on one
  // side only, so the balance is read again after, and all is read again until both reads agree
  return retrying(
    async () => {
      const before = await d.accounts.get(accountId);
      if (!before) return 0;
      let stake = STAKE(before as unknown as Record<string, number>);
      let cursor: string | undefined;
      for (;;) {
        const page = await d.ledger.statement(accountId, PAGE, cursor);
        let older = false;
        for (const e of page.items) {
          if (e.at <= at) {
            older = true;
            break;
          }
          stake -= STAKE(balanceDeltas([{ key: e.id, at: e.at, entries: [e] }]).get(accountId) ?? {});
        }
        if (older || !page.nextCursor) break;
        cursor = page.nextCursor;
      }
      const after = await d.accounts.get(accountId);
      if (after && STAKE(after as unknown as Record<string, number>) === STAKE(before as unknown as Record<string, number>)) return Math.max(0, stake);
      throw new StakeMovedError(accountId);
    },
    { retries: 4, on: (e) => e instanceof StakeMovedError },
  );
}

/** The stake moved between the two reads of one try (a 500 once the tries are spent, as before). */
class StakeMovedError extends Error {
  override name = 'StakeMovedError';
  constructor(accountId: string) {
    super(`the stake of ${accountId} kept changing while it was read`);
  }
}

/** Licenses the account has held since before `at` (one transferred after it votes for nobody on that proposal). */
export async function licensesHeldSince(d: Deps, accountId: string, at: number): Promise<number> {
  const listed = await d.governance.licensesOf(accountId, 'owner');
  // the index may lag a transfer: each license is read again, consistently, before it counts
  const fresh = await Promise.all(listed.map((l) => d.governance.license(l.id)));
  return fresh.filter((l) => l && l.ownerId === accountId && l.ownerSince <= at).length;
}

export interface Weight {
  weight: number;
  stakeVotes: number;
  licenseVotes: number;
}

/** The account's votes as of `at`. */
export async function weightAt(d: Deps, accountId: string, at: number): Promise<Weight> {
  const g = governanceOf(d.settings);
  const [stake, licenses] = await Promise.all([stakeAt(d, accountId, at), licensesHeldSince(d, accountId, at)]);
  const s = stakeVotes(stake);
  const l = licenses * g.licenseVotes;
  return { weight: s + l, stakeVotes: s, licenseVotes: l };
}
