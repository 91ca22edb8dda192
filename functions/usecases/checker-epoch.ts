// Closing the checker network's epochs (docs/checkers.md, Epoch close), on a schedule: once an epoch's
// reports are in (its end plus the grace), each node's verdict is taken from its assigned checkers'
// reports, a quorum's verdict moves the node's reputation, every checker is scored, a checker with
// repeated disagreement is suspended, and the epoch's reward budget is paid from the reward pool in
// proportion to agreeing on-time reports, split with the delegator by the delegation's share.
//
// Every write is once-only, so two closes of one epoch (overlapping runs, a retry) pay and move once: the
// verdict item is written under attribute_not_exists and only its writer nudges reputation; a checker's
// standing takes an epoch only if it has not taken it (scoredEpoch); rewards are postings keyed
// `epoch/<n>/checker/<license>/reward`, which the ledger writes at most once.
import { assignedCheckers, epochSeed } from '../domain/checker/assignments';
import { addOutcome, emptyScore, nextStanding, outcomeOf, penaltyOf, shareRewards, shouldSuspend, type EpochScore } from '../domain/checker/checker-standing';
import { epochEnd, epochStart, graceMs, networkEpochOf } from '../domain/checker/network';
import { nodeVerdict, type NodeReport, type OperatorResult } from '../domain/checker/quorum';
import { periodOf, splitReward, type License } from '../domain/governance/licenses';
import { checkerPenaltyPosting, checkerRewardPosting } from '../domain/ledger/postings';
import type { EpochRoster, StoredReport } from '../store/checker-network-store';
import { InsufficientFundsError } from '../store/ledger-store';
import type { NodeItem } from '../store/nodes-store';
import { observeNode } from './checker-reputation';
import { checkableNodes, network } from './checker-network';
import { assignmentSecret } from './checker-settings';
import type { Deps } from './deps';
import { isLostRace, LostRaceError, retrying } from './retry';

export interface EpochCloseResult {
  epoch: number;
  nodes: number;
  byQuorum: number;
  failedByQuorum: number;
  reports: number;
  paid: number;
  /** penalties charged to license holders (beyond their rewards) */
  charged: number;
  suspended: string[];
}

/** At most this many past epochs are closed per run (a long outage catches up over several runs). */
export const MAX_CATCH_UP = 10;

/** The checker network's scheduled pass: closes every epoch whose reports are all in and that is not closed yet. */
export async function runNetworkEpochs(d: Deps): Promise<EpochCloseResult[]> {
  const ms = d.settings.checker.networkEpochMs;
  const net = network(d);
  // the newest epoch whose grace has passed
  const last = networkEpochOf(d.now() - graceMs(ms), ms) - 1;
  const through = await net.closedThrough();
  const first = Math.max(through === undefined ? last : through + 1, last - MAX_CATCH_UP + 1);
  const out: EpochCloseResult[] = [];
  for (let e = first; e <= last; e++) out.push(await closeEpoch(d, e));
  return out;
}

/** The operator's checker on the node as of the close: its latest verdict, if it probed the node in or after the epoch. */
export function operatorResult(node: Pick<NodeItem, 'probe'>, epoch: number, epochMs: number): OperatorResult | undefined {
  const p = node.probe;
  if (!p || p.lastAt < epochStart(epoch, epochMs)) return undefined;
  return { ok: p.consecutiveFailures === 0, ...(p.rttMs !== undefined ? { rttMs: p.rttMs } : {}) };
}

export async function closeEpoch(d: Deps, epoch: number): Promise<EpochCloseResult> {
  const ms = d.settings.checker.networkEpochMs;
  const net = network(d);
  const now = d.now();
  const result: EpochCloseResult = { epoch, nodes: 0, byQuorum: 0, failedByQuorum: 0, reports: 0, paid: 0, charged: 0, suspended: [] };
  const roster = await net.roster(epoch);
  // no checker took part: nothing to decide, pay or mark (an idle network writes nothing, every epoch)
  if (!roster || !roster.checkers.length) return result;
  const secret = await assignmentSecret(d.settings.checker);
  if (!secret) throw new Error('checker network: no control-plane signing key configured');
  const seed = epochSeed(secret, epoch);
  const [reports, badSigs, nodes] = await Promise.all([net.reports(epoch), net.badSignatures(epoch), nodesOf(d, epoch, ms)]);
  result.reports = reports.length;
  const byNode = new Map<string, StoredReport[]>();
  for (const r of reports) byNode.set(r.nodeId, [...(byNode.get(r.nodeId) ?? []), r]);

  const scores = new Map<string, EpochScore>(roster.checkers.map((c) => [c.licenseId, { ...emptyScore(c.licenseId), badSignatures: badSigs.get(c.licenseId) ?? 0 }]));
  for (const node of nodes) {
    const assigned = assignedCheckers(seed, roster.checkers, node, roster.k);
    if (!assigned.length) continue;
    result.nodes++;
    const mine = new Map((byNode.get(node.id) ?? []).map((r) => [r.licenseId, r]));
    const counted: NodeReport[] = assigned.flatMap((c) => {
      const r = mine.get(c.licenseId);
      return r ? [{ licenseId: r.licenseId, ok: r.ok, late: r.late, ...(r.rttMs !== undefined ? { rttMs: r.rttMs } : {}) }] : [];
    });
    const verdict = nodeVerdict(counted, roster.k, operatorResult(node, epoch, ms));
    for (const c of assigned) scores.set(c.licenseId, addOutcome(scores.get(c.licenseId)!, outcomeOf(counted.find((r) => r.licenseId === c.licenseId), verdict)));
    // the operator's own probes already moved the reputation when it decided; a quorum's verdict moves it
    // once more, and only for the close that wrote the verdict
    if ((await net.putVerdict(epoch, node.id, verdict, now)) && verdict.decidedBy === 'quorum') {
      result.byQuorum++;
      if (!verdict.pass) result.failedByQuorum++;
      await observeNode(d, node.id, verdict.pass ? 'probeOk' : 'probeFailed');
    }
  }

  const shares = shareRewards(d.settings.checker.networkRewardPerEpoch, [...scores.values()]);
  for (const c of roster.checkers) {
    const score = scores.get(c.licenseId)!;
    const reg = await net.registration(c.licenseId);
    const standing = reg ? nextStanding({ standing: reg.standing, strikes: reg.strikes }, score) : undefined;
    // only the close that moved the standing records the score and may suspend: a second close would
    // have read the standing after this epoch already counted
    const scored = !!reg && !!standing && (await net.scoreInto(c.licenseId, epoch, standing));
    const suspended = scored && shouldSuspend(standing!) && (await suspend(d, c.licenseId, now));
    if (suspended) result.suspended.push(c.licenseId);
    const reward = shares.get(c.licenseId) ?? 0;
    const penalty = penaltyOf(score, d.settings.checker.networkPenaltyPerReport);
    const { outcome, amount } = await settleLicense(d, epoch, c, reward - penalty, now);
    if (outcome === 'wrote' && amount > 0) result.paid += amount;
    if (outcome === 'wrote' && amount < 0) result.charged -= amount;
    const posted = outcome === 'wrote' || outcome === 'already';
    if (scored) await net.putScore(epoch, { ...score, reward, penalty, net: posted ? amount : 0, posted, standing: standing!.standing, suspended });
  }
  await net.markClosed(epoch, now);
  return result;
}

/** The nodes checked in the epoch: those checkable now that existed before it ended, and any reported on. */
async function nodesOf(d: Deps, epoch: number, ms: number): Promise<NodeItem[]> {
  return (await checkableNodes(d)).filter((n) => n.createdAt < epochEnd(epoch, ms));
}

/**
 * The license's epoch in the ledger, one posting under one key: a positive net (reward less penalty) from
 * the pool, split as the roster (who held and operated it at the epoch's start) says; a negative one from
 * the holder back to the pool, at most what it has available (checkers hold no stake to slash).
 */
async function settleLicense(d: Deps, epoch: number, c: EpochRoster['checkers'][number], net: number, at: number): Promise<{ outcome: 'wrote' | 'already' | 'unfunded' | 'none'; amount: number }> {
  const key = checkerRewardKey(epoch, c.licenseId);
  const memo = `checker ${c.licenseId}, epoch ${epoch}`;
  let amount = net;
  if (net < 0) amount = -Math.min(-net, (await d.accounts.get(c.ownerId))?.available ?? 0);
  if (amount === 0) return { outcome: 'none', amount: 0 };
  const posting = amount > 0 ? checkerRewardPosting(key, splitReward(c, amount), memo, at) : checkerPenaltyPosting(key, c.ownerId, -amount, memo, at);
  try {
    // false: this epoch is already posted (a second close): the ledger moves it once
    return { outcome: (await d.ledger.post([posting])) ? 'wrote' : 'already', amount };
  } catch (e) {
    // the pool (or the holder, after a concurrent spend) is short: recorded, unposted
    if (e instanceof InsufficientFundsError) return { outcome: 'unfunded', amount };
    throw e;
  }
}

export const checkerRewardKey = (epoch: number, licenseId: string) => `epoch/${epoch}/checker/${licenseId}/reward`;

/** Suspends the license from assignments, with its history record; true when this call did it. */
async function suspend(d: Deps, licenseId: string, at: number): Promise<boolean> {
  return retrying(
    async () => {
      const l = await d.governance.license(licenseId);
      if (!l || l.status === 'suspended') return false;
      const after: License = { ...l, status: 'suspended', since: at, version: l.version + 1 };
      if (await d.governance.change(l, after, periodOf(after, 'suspend', 'checker-network'), at)) return true;
      throw new LostRaceError(`license ${licenseId} changed concurrently`);
    },
    // still changing after that: left active, and this call did not suspend it
    { retries: 3, on: isLostRace, exhausted: () => false },
  );
}

