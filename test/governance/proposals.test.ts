// Governance on the local stack (DynamoDB Local): proposals within the deployment's bounds, one final
// vote per account however many race, weight from the stake and licenses held when the proposal was made
// (stake or a license moved afterwards cannot vote again), the schedule that closes a window only once it
// has ended and enacts a passed proposal once, after its delay, and the veto only where allowed. The
// schedule is driven here with a shifted clock instead of waiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../functions/domain/model';
import type { Deps } from '../../functions/usecases/deps';
import { castVote, runGovernance, vetoProposal } from '../../functions/usecases/governance';
import { DEFAULT_GOVERNANCE } from '../../functions/usecases/governance-settings';
import { ledgerSettings } from '../../functions/usecases/parameters';
import { mintLicenses } from '../../functions/usecases/licenses';
import { startPool, type Pool } from '../helpers/local-pool';

const CREDIT = 1_000_000;
const GOV = { ...DEFAULT_GOVERNANCE, minVotingSeconds: 1, enactmentDelaySeconds: 30, quorumVotes: 100, licenseVotes: 1_000 };
let pool: Pool;
type Account = Awaited<ReturnType<Pool['newAccount']>>;
let staker: Account;

/** the stack's deps with the clock `ms` ahead */
const at = (ms: number): Deps => ({ ...pool.stack.deps, now: () => Date.now() + ms });

async function stakedProvider(name: string, credits: number): Promise<Account> {
  const p = await pool.newAccount('provider', name);
  expect((await pool.admin.post(`/v1/accounts/${p.id}/credits`, { amount: credits * CREDIT })).status).toBe(201);
  expect((await p.api.post('/v1/stake', { amount: credits * CREDIT })).status).toBe(200);
  return p;
}

const propose = (a: Account, changes: Record<string, number>, votingSeconds = 60) => a.api.post('/v1/proposals', { title: `set ${Object.keys(changes).join(', ')}`, changes, votingSeconds });

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, governanceMs: 3_600_000, settings: { governance: GOV } });
  staker = await stakedProvider('staker', 300);
}, 60_000);
afterAll(async () => pool?.stop());

describe('proposals', () => {
  it('refuses changes outside the deployment bounds with a 400, creating nothing', async () => {
    const bad: Record<string, number>[] = [{ feeBps: 10_000 }, { feeBps: 2_001 }, { slashBps: 0 }, { checkerQuorum: 0 }, {}];
    for (const changes of bad) {
      const r = await propose(staker, changes);
      expect(r.status, JSON.stringify(changes)).toBe(400);
    }
    expect((await staker.api.post('/v1/proposals', { title: 'x', changes: { feeBps: 100, unknownKnob: 1 }, votingSeconds: 60 })).status).toBe(400);
    expect((await propose(staker, { feeBps: 100 }, 31 * 24 * 3600)).status).toBe(400);
    expect((await propose(staker, { feeBps: -1 })).status).toBe(400);
    expect(await pool.stack.deps.governance.due(Date.now() + 365 * 24 * 3600_000)).toEqual([]);
  });

  it('lets stakers and license holders propose, not admins nor accounts without weight', async () => {
    expect((await pool.admin.post('/v1/proposals', { title: 'admin', changes: { feeBps: 100 }, votingSeconds: 60 })).status).toBe(403);
    const poor = await pool.newAccount('consumer', 'no stake');
    expect((await propose(poor, { feeBps: 100 })).status).toBe(403);
    const r = await propose(staker, { feeBps: 100 });
    expect(r.status).toBe(201);
    expect(r.body.proposal).toMatchObject({ status: 'open', changes: { feeBps: 100 }, tally: { yes: 0, no: 0, voters: 0 }, quorumVotes: 100, thresholdBps: 5_000 });
    expect((await poor.api.get(`/v1/proposals/${r.body.proposal.id}`)).body.proposal.status).toBe('open');
  });
});

describe('votes', () => {
  it('counts one vote per account, however many race; a second vote is refused', async () => {
    const id = (await propose(staker, { feeBps: 200 })).body.proposal.id;
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => staker.api.post(`/v1/proposals/${id}/votes`, { choice: i % 2 ? 'no' : 'yes' })));
    expect(rs.filter((r) => r.status === 201)).toHaveLength(1);
    expect(rs.filter((r) => r.status === 409)).toHaveLength(5);
    const won = rs.find((r) => r.status === 201)!.body.vote;
    const p = (await staker.api.get(`/v1/proposals/${id}`)).body.proposal;
    expect(p.tally).toEqual({ yes: won.choice === 'yes' ? 300 : 0, no: won.choice === 'no' ? 300 : 0, voters: 1 });
    expect(p.yourVote).toEqual({ choice: won.choice, weight: 300 });
    expect((await staker.api.post(`/v1/proposals/${id}/votes`, { choice: 'yes' })).status).toBe(409);
    expect((await staker.api.post(`/v1/proposals/${id}/votes`, { choice: 'maybe' })).status).toBe(400);
    expect((await pool.admin.post(`/v1/proposals/${id}/votes`, { choice: 'yes' })).status).toBe(403);
  });

  it('weighs stake as it was when the proposal was made: stake added or moved later does not vote', async () => {
    const mover = await stakedProvider('mover', 200);
    const id = (await propose(staker, { feeBps: 250 })).body.proposal.id;
    // after the snapshot: a newcomer stakes, and the mover unstakes half (its unbonding credits are not stake)
    const late = await stakedProvider('late staker', 500);
    expect((await mover.api.post('/v1/unstake', { amount: 100 * CREDIT })).status).toBe(200);
    expect((await late.api.post(`/v1/proposals/${id}/votes`, { choice: 'yes' })).status).toBe(403);
    const v = await mover.api.post(`/v1/proposals/${id}/votes`, { choice: 'no' });
    expect(v.status).toBe(201);
    expect(v.body.vote).toMatchObject({ weight: 200, stakeVotes: 200, licenseVotes: 0 });
    expect((await staker.api.get(`/v1/proposals/${id}`)).body.proposal.tally).toEqual({ yes: 0, no: 200, voters: 1 });
  });

  it('counts a license for whoever held it when the proposal was made, once: a license passed on cannot vote again', async () => {
    const holder = await pool.newAccount('provider', 'license holder');
    const buyer = await pool.newAccount('provider', 'license buyer');
    const [lic] = (await mintLicenses(pool.stack.deps, { accountId: 'admin', role: 'admin', keyId: 'k' }, { account: holder.id, count: 1 })).items;
    const id = (await propose(holder, { feeBps: 300 })).body.proposal.id;
    const v = await holder.api.post(`/v1/proposals/${id}/votes`, { choice: 'yes' });
    expect(v.status).toBe(201);
    expect(v.body.vote).toMatchObject({ weight: 1_000, stakeVotes: 0, licenseVotes: 1_000 });
    expect((await holder.api.post(`/v1/licenses/${lic.id}/transfer`, { to: buyer.id })).status).toBe(200);
    expect((await buyer.api.post(`/v1/proposals/${id}/votes`, { choice: 'yes' })).status).toBe(403);
    expect((await staker.api.get(`/v1/proposals/${id}`)).body.proposal.tally).toEqual({ yes: 1_000, no: 0, voters: 1 });
  });
});

describe('closing and enactment', () => {
  it('decides nothing before the window closes, enacts once after the delay, and the fee in force changes', async () => {
    const d = pool.stack.deps;
    const before = await ledgerSettings(d);
    const p = (await propose(staker, { feeBps: 123, slashBps: 1_500 }, 20)).body.proposal;
    expect((await staker.api.post(`/v1/proposals/${p.id}/votes`, { choice: 'yes' })).status).toBe(201);
    // the window is open: the schedule leaves it alone
    expect(await runGovernance(at(0))).toMatchObject({ passed: 0, enacted: 0 });
    expect((await d.governance.proposal(p.id))!.status).toBe('open');
    // closed but within the delay: passed, not enacted; a late vote is refused
    const afterWindow = p.votingEndsAt - Date.now() + 100;
    const caller: Caller = { accountId: 'someone', role: 'provider', keyId: 'k' };
    await expect(castVote(at(afterWindow), caller, p.id, 'no')).rejects.toMatchObject({ code: 'conflict' });
    expect(await runGovernance(at(afterWindow))).toMatchObject({ passed: 1, enacted: 0 });
    expect((await d.governance.proposal(p.id))!.status).toBe('passed');
    expect((await d.governance.parameters()).version).toBe(0);
    // past the delay: two schedules at once enact it once
    const afterDelay = p.enactAfter - Date.now() + 100;
    const runs = await Promise.all([runGovernance(at(afterDelay)), runGovernance(at(afterDelay)), runGovernance(at(afterDelay))]);
    expect(runs.reduce((s, r) => s + r.enacted, 0)).toBe(1);
    expect(await runGovernance(at(afterDelay + 1000))).toMatchObject({ enacted: 0 });
    const stored = await d.governance.parameters();
    expect(stored).toMatchObject({ version: 1, values: { feeBps: 123, slashBps: 1_500 }, proposalId: p.id });
    expect((await d.governance.proposal(p.id))!.status).toBe('enacted');
    const view = (await staker.api.get('/v1/parameters')).body;
    expect(view.parameters).toMatchObject({ feeBps: 123, slashBps: 1_500, rewardShareBps: before.rewardShareBps });
    expect(view.deployment.feeBps).toBe(before.feeBps);
    expect(view.enactments).toEqual([expect.objectContaining({ proposalId: p.id, before: { feeBps: before.feeBps, slashBps: before.slashBps }, after: { feeBps: 123, slashBps: 1_500 } })]);
    d.parameters!.invalidate();
    expect(await ledgerSettings(d)).toMatchObject({ feeBps: 123, slashBps: 1_500 });
  });

  it('rejects a proposal whose votes do not reach the quorum', async () => {
    const small = await stakedProvider('small staker', 50);
    const p = (await propose(small, { feeBps: 50 }, 5)).body.proposal;
    expect((await small.api.post(`/v1/proposals/${p.id}/votes`, { choice: 'yes' })).status).toBe(201);
    await runGovernance(at(p.enactAfter - Date.now() + 100));
    expect((await pool.stack.deps.governance.proposal(p.id))!.status).toBe('rejected');
    expect((await pool.stack.deps.governance.parameters()).values.feeBps).not.toBe(50);
  });

  it('lets the admin veto only where the deployment allows it', async () => {
    const p = (await propose(staker, { feeBps: 400 }, 5)).body.proposal;
    expect((await staker.api.post(`/v1/proposals/${p.id}/votes`, { choice: 'yes' })).status).toBe(201);
    expect((await pool.admin.post(`/v1/proposals/${p.id}/veto`)).status).toBe(403);
    expect((await staker.api.post(`/v1/proposals/${p.id}/veto`)).status).toBe(403);
    const admin: Caller = { accountId: 'admin', role: 'admin', keyId: 'k' };
    const allowing = { ...pool.stack.deps, settings: { ...pool.stack.deps.settings, governance: { ...GOV, adminVeto: true } } };
    expect((await vetoProposal(allowing, admin, p.id)).proposal).toMatchObject({ status: 'vetoed' });
    await expect(vetoProposal(allowing, admin, p.id)).rejects.toMatchObject({ code: 'conflict' });
    expect(await runGovernance(at(p.enactAfter - Date.now() + 100))).toMatchObject({ enacted: 0 });
    expect((await pool.stack.deps.governance.proposal(p.id))!.status).toBe('vetoed');
  });
});
