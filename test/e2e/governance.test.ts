// Governance end to end on the local stack at its demo pace (issue 19): a staker proposes a lower fee with
// a 5 s vote, votes it through, the schedule enacts it within 10 s of the vote closing, and the next
// job's settlement charges the new fee; the ledger audit stays clean.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meteredCharge } from '../../functions/domain/ledger/postings';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const PRICE = 3_600_000; // 1,000 micro-credits per GPU-second
const CREDIT = 1_000_000;
let pool: Pool;

beforeAll(async () => {
  pool = await startPool();
}, 60_000);
afterAll(async () => pool?.stop());

describe('governance on the local stack', () => {
  it('enacts a passed fee change within 10 s of its vote closing, and the next settlement charges it', async () => {
    const provider = await pool.newAccount('provider', 'voting provider');
    const consumer = await pool.newAccount('consumer', 'fee payer');
    // 1,000 credits staked: 1,000 votes, the default quorum
    expect((await pool.admin.post(`/v1/accounts/${provider.id}/credits`, { amount: 1_000 * CREDIT })).status).toBe(201);
    expect((await provider.api.post('/v1/stake', { amount: 1_000 * CREDIT })).status).toBe(200);
    await pool.addAgent({ name: 'gov-node', gpus: '1xA100-80', price: PRICE, providerKey: provider.key });

    const feeNow = (await provider.api.get('/v1/parameters')).body.parameters.feeBps;
    expect(feeNow).toBe(500);
    const runJob = async () => {
      const before = (await provider.api.get('/v1/balance')).body.available;
      const job = (await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'sleep 0.3'], resources: { gpus: 1 }, maxDurationSeconds: 60 })).body.job;
      const done = await eventually(async () => {
        const j = (await consumer.api.get(`/v1/jobs/${job.id}`)).body.job;
        return j.status === 'SUCCEEDED' ? j : undefined;
      }, 30_000, 'the job to succeed');
      const a = done.attempts[0];
      const charge = meteredCharge(PRICE, 1, a.finishedAt - a.startedAt);
      const earned = (await provider.api.get('/v1/balance')).body.available - before;
      return { charge, fee: charge - earned };
    };
    const first = await runJob();
    expect(first.charge).toBeGreaterThan(0);
    expect(first.fee).toBe(Math.floor((first.charge * 500) / 10_000));

    const created = await provider.api.post('/v1/proposals', { title: 'lower the fee to 3%', changes: { feeBps: 300 }, votingSeconds: 5 });
    expect(created.status).toBe(201);
    const id = created.body.proposal.id;
    expect((await provider.api.post(`/v1/proposals/${id}/votes`, { choice: 'yes' })).status).toBe(201);
    const enacted = await eventually(async () => {
      const p = (await provider.api.get(`/v1/proposals/${id}`)).body.proposal;
      return p.status === 'enacted' ? p : undefined;
    }, 30_000, 'the proposal to be enacted');
    expect(enacted.tally).toEqual({ yes: 1_000, no: 0, voters: 1 });
    expect(enacted.enactedAt - enacted.votingEndsAt).toBeLessThanOrEqual(10_000);
    expect(enacted.enactedAt).toBeGreaterThanOrEqual(enacted.enactAfter);
    expect((await provider.api.get('/v1/parameters')).body.parameters.feeBps).toBe(300);

    const second = await runJob();
    expect(second.charge).toBeGreaterThan(0);
    expect(second.fee).toBe(Math.floor((second.charge * 300) / 10_000));

    const audit = (await pool.admin.get('/v1/ledger/audit')).body;
    expect(audit).toMatchObject({ ok: true, differences: [] });
  }, 120_000);
});
