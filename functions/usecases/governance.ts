// Governance (docs/governance.md): proposals to change the pool's parameters, votes weighted by stake and
// licenses at the proposal's creation, and the schedule that closes windows and enacts what passed.
import { conflict, DomainError, forbidden, notFound } from '../domain/errors';
import { assertWithinBounds, inForce, pickGoverned, type ParameterChanges } from '../domain/governance/parameters';
import { decide, type Choice, type Proposal } from '../domain/governance/proposals';
import type { Caller } from '../domain/model';
import type { Deps } from './deps';
import { governanceOf } from './governance-settings';
import { weightAt } from './governance-weight';
import { parametersInForce } from './parameters';

export async function createProposal(d: Deps, caller: Caller, body: { title: string; changes: ParameterChanges; votingSeconds: number }): Promise<Proposal> {
  const g = governanceOf(d.settings);
  if (caller.role === 'admin' || caller.role === 'node') throw forbidden('proposals are made by stakers and license holders');
  const changes = pickGoverned(body.changes as Record<string, unknown>);
  assertWithinBounds(changes, g.bounds);
  if (body.votingSeconds < g.minVotingSeconds || body.votingSeconds > g.maxVotingSeconds) {
    throw new DomainError('validation_failed', 'votingSeconds is outside this deployment\'s window', [{ path: 'votingSeconds', message: `must be in ${g.minVotingSeconds}..${g.maxVotingSeconds}` }]);
  }
  const now = d.now();
  const w = await weightAt(d, caller.accountId, now);
  if (w.weight < g.proposalMinVotes) throw forbidden(`a proposer needs at least ${g.proposalMinVotes} vote(s) of stake or licenses; this account has ${w.weight}`);
  const votingEndsAt = now + body.votingSeconds * 1000;
  const p: Proposal = {
    id: `prop_${d.newId()}`,
    title: body.title,
    changes,
    proposerId: caller.accountId,
    createdAt: now,
    votingEndsAt,
    enactAfter: votingEndsAt + g.enactmentDelaySeconds * 1000,
    status: 'open',
    tally: { yes: 0, no: 0, voters: 0 },
    quorumVotes: g.quorumVotes,
    thresholdBps: g.thresholdBps,
  };
  await d.governance.createProposal(p);
  return p;
}

export async function getProposal(d: Deps, caller: Caller, id: string) {
  const p = await d.governance.proposal(id);
  if (!p) throw notFound('proposal');
  // proposals and tallies are public to every account; a vote is the voter's own (and the admin's) to see
  const mine = caller.role === 'node' ? undefined : await d.governance.vote(id, caller.accountId);
  return { proposal: { ...p, ...(mine ? { yourVote: { choice: mine.choice, weight: mine.weight } } : {}) } };
}

/**
 * One vote per account, final: a second is refused (409), concurrent ones included, since the vote
 * item is written only if absent, in the same transaction as the tally.
 */
export async function castVote(d: Deps, caller: Caller, proposalId: string, choice: Choice) {
  if (caller.role === 'admin' || caller.role === 'node') throw forbidden('votes are cast by stakers and license holders');
  const p = await d.governance.proposal(proposalId);
  if (!p) throw notFound('proposal');
  const at = d.now();
  if (p.status !== 'open' || at >= p.votingEndsAt) throw conflict(`voting on this proposal has closed (${p.status})`);
  if (await d.governance.vote(proposalId, caller.accountId)) throw conflict('this account has voted on this proposal; a vote is final');
  const w = await weightAt(d, caller.accountId, p.createdAt);
  if (w.weight <= 0) throw forbidden('this account had no stake and no licenses when the proposal was made');
  const r = await d.governance.castVote({ proposalId, accountId: caller.accountId, choice, at, ...w });
  if (r === 'voted') throw conflict('this account has voted on this proposal; a vote is final');
  if (r === 'closed') throw conflict('voting on this proposal has closed');
  return { vote: { proposalId, choice, ...w, at } };
}

export async function vetoProposal(d: Deps, caller: Caller, id: string) {
  if (caller.role !== 'admin') throw forbidden();
  if (!governanceOf(d.settings).adminVeto) throw forbidden('this deployment does not allow an admin veto (GOVERNANCE_ADMIN_VETO)');
  const p = await d.governance.proposal(id);
  if (!p) throw notFound('proposal');
  if (!(await d.governance.veto(id, d.now()))) throw conflict(`only an open or passed proposal can be vetoed; this one is ${(await d.governance.proposal(id))?.status}`);
  return { proposal: await d.governance.proposal(id) };
}

/** The values in force, the deployment's bounds, and the last enactments. */
export async function parametersView(d: Deps) {
  const [values, current, enactments] = await Promise.all([parametersInForce(d), d.governance.parameters(), d.governance.enactments(10)]);
  return {
    parameters: values,
    deployment: inForce(d.settings.ledger, {}),
    bounds: governanceOf(d.settings).bounds,
    version: current.version,
    updatedAt: current.updatedAt ?? null,
    enactments,
  };
}

export interface GovernanceRun {
  passed: number;
  rejected: number;
  enacted: number;
}

/**
 * The schedule's pass: closes open proposals whose window ended (passed or rejected on their tally) and
 * enacts passed ones whose delay ran. Every write is conditional, so overlapping runs change each proposal
 * once: the loser of a race finds it moved on and does nothing.
 */
export async function runGovernance(d: Deps): Promise<GovernanceRun> {
  const out: GovernanceRun = { passed: 0, rejected: 0, enacted: 0 };
  const now = d.now();
  for (const listed of await d.governance.due(now)) {
    // the index may lag: decide on a consistent read
    const p = await d.governance.proposal(listed.id);
    if (!p) continue;
    if (p.status === 'open' && p.votingEndsAt <= now) {
      const outcome = decide(p.tally, p.quorumVotes, p.thresholdBps);
      if (await d.governance.close(p, outcome, now)) {
        out[outcome]++;
        if (outcome === 'passed' && p.enactAfter <= now && (await enact(d, { ...p, status: 'passed' }, now))) out.enacted++;
      }
    } else if (p.status === 'passed' && p.enactAfter <= now) {
      if (await enact(d, p, now)) out.enacted++;
    }
  }
  return out;
}

async function enact(d: Deps, p: Proposal, at: number): Promise<boolean> {
  const current = await d.governance.parameters();
  const before = inForce(d.settings.ledger, current.values);
  const after = { ...current.values, ...p.changes };
  const prior = Object.fromEntries(Object.keys(p.changes).map((k) => [k, before[k as keyof typeof before]])) as ParameterChanges;
  const ok = await d.governance.enact(p, current, { proposalId: p.id, at, changes: p.changes, before: prior, after });
  // this process's settlements see the new values at once; others within their cache's few seconds
  if (ok) d.parameters?.invalidate();
  return ok;
}
