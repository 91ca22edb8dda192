// The ledger end to end on the local stack (issue #7): a node comes online only once its provider's
// stake covers it; a consumer with exactly enough credits for one job runs it and is charged to the
// micro-credit what the metered time says; the provider earns that minus the fee; a second job waits
// for credits and starts after a mint; the audit finds no difference.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LEDGER } from '../../functions/domain/ledger/model';
import { holdAmount, meteredCharge } from '../../functions/domain/ledger/postings';
import { startAgent } from '../../lib/local/agent-process';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const PRICE = 3_600_000; // 3.6 credits per GPU-hour: 1,000 micro-credits per GPU-second
const MIN_STAKE = 50_000_000; // 50 credits per GPU
const FEE_BPS = 500;
let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;

beforeAll(async () => {
  pool = await startPool({ settings: { ledger: { ...DEFAULT_LEDGER, feeBps: FEE_BPS, minStakePerGpu: MIN_STAKE, unstakeCooldownMs: 500 } } });
  provider = await pool.newAccount('provider', 'staked provider');
}, 60_000);
afterAll(async () => pool?.stop());

const balance = async (api: Pool['admin']) => (await api.get('/v1/balance')).body;

describe('the ledger on the local stack', () => {
  it('keeps a node offline, saying why, until its provider stakes enough for its GPUs', async () => {
    const agent = startAgent({
      apiUrl: pool.stack.apiUrl, name: 'stake-node', gpus: '2xA100-80', price: PRICE, providerKey: provider.key,
      stateDir: path.join(pool.dir, 'stake-node'), env: { GPUPOOL_DRAIN_SECONDS: '0' }, onLine: (l) => pool.logs.push(l),
    });
    pool.agents.push(agent);
    const waiting = await eventually(async () => {
      const r = await provider.api.get('/v1/nodes');
      const n = r.body.items?.[0];
      return n?.statusReason?.includes('waiting for stake') ? n : undefined;
    }, 30_000, 'the node to wait for stake');
    expect(waiting.status).toBe('OFFLINE');
    expect(waiting.statusReason).toContain('100 ATH more free stake needed (2 GPUs × 50 ATH)');

    // too little free stake: still offline; the rest: online, with the lock taken from free stake
    expect((await pool.admin.post(`/v1/accounts/${provider.id}/credits`, { amount: 2 * MIN_STAKE + 1_000_000 })).status).toBe(201);
    expect((await provider.api.post('/v1/stake', { amount: MIN_STAKE })).status).toBe(200);
    expect((await provider.api.post('/v1/stake', { amount: 10 * MIN_STAKE })).status).toBe(409);
    expect((await provider.api.post('/v1/stake', { amount: MIN_STAKE })).status).toBe(200);
    const online = await eventually(async () => {
      const n = (await provider.api.get(`/v1/nodes/${waiting.id}`)).body.node;
      return n.status === 'ONLINE' ? n : undefined;
    }, 30_000, 'the node to come online');
    expect(online.stakeLocked).toBe(2 * MIN_STAKE);
    expect(await balance(provider.api)).toMatchObject({ available: 1_000_000, staked: 2 * MIN_STAKE, stakeLocked: 2 * MIN_STAKE, stakeFree: 0 });
    // stake bound to a node cannot be unstaked
    expect((await provider.api.post('/v1/unstake', { amount: 1 })).status).toBe(409);
  }, 60_000);

  it('charges exactly the metered time, pays the provider minus the fee, and holds the next job until credits come', async () => {
    const consumer = await pool.newAccount('consumer', 'exact consumer', false);
    const spec = { command: ['sh', '-c', 'sleep 0.3; echo done'], resources: { gpus: 1 }, maxDurationSeconds: 60 };
    const hold = holdAmount(PRICE, 1, 60);
    expect((await pool.admin.post(`/v1/accounts/${consumer.id}/credits`, { amount: hold })).status).toBe(201);
    const providerBefore = (await balance(provider.api)).available;

    const first = (await consumer.api.post('/v1/jobs', spec)).body.job;
    const done = await eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${first.id}`)).body.job;
      return j.status === 'SUCCEEDED' ? j : undefined;
    }, 30_000, 'the first job to succeed');
    const a = done.attempts[0];
    const charge = meteredCharge(PRICE, 1, a.finishedAt - a.startedAt);
    expect(charge).toBeGreaterThan(0);
    expect(a).toMatchObject({ hold, charged: charge });
    expect(done.cost).toMatchObject({ held: 0, charged: charge, refunded: hold - charge });
    expect(await balance(consumer.api)).toMatchObject({ available: hold - charge, held: 0 });
    const fee = Math.floor((charge * FEE_BPS) / 10_000);
    expect((await balance(provider.api)).available - providerBefore).toBe(charge - fee);

    // the second job cannot be covered: it waits, saying why, and starts once credits arrive
    const second = (await consumer.api.post('/v1/jobs', spec)).body.job;
    const waiting = await eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${second.id}`)).body.job;
      return j.pendingReason?.startsWith('insufficient credits') ? j : undefined;
    }, 15_000, 'the second job to wait for credits');
    expect(waiting.status).toBe('QUEUED');
    expect(await balance(consumer.api)).toMatchObject({ held: 0 });
    expect((await pool.admin.post(`/v1/accounts/${consumer.id}/credits`, { amount: charge })).status).toBe(201);
    await eventually(async () => ((await consumer.api.get(`/v1/jobs/${second.id}`)).body.job.status === 'SUCCEEDED' ? true : undefined), 30_000, 'the second job to run after the mint');

    // the statement explains every change, newest first, with the balances after each
    const st = (await consumer.api.get(`/v1/accounts/${consumer.id}/entries?limit=100`)).body;
    const kinds = st.items.map((e: { kind: string }) => e.kind);
    expect(kinds.filter((k: string) => k === 'mint')).toHaveLength(2);
    expect(kinds.filter((k: string) => k === 'hold')).toHaveLength(2);
    expect(kinds).toContain('charge');
    expect(kinds).toContain('release');
    const now = await balance(consumer.api);
    expect(st.items[0].balanceAfter).toMatchObject({ available: now.available, held: now.held });
    expect(st.items.at(-1).kind).toBe('mint');
    // paging gives the same entries
    const p1 = (await consumer.api.get(`/v1/accounts/${consumer.id}/entries?limit=3`)).body;
    const p2 = (await consumer.api.get(`/v1/accounts/${consumer.id}/entries?limit=100&cursor=${p1.nextCursor}`)).body;
    expect([...p1.items, ...p2.items].map((e: { id: string }) => e.id)).toEqual(st.items.map((e: { id: string }) => e.id));

    const audit = (await pool.admin.get('/v1/ledger/audit')).body;
    expect(audit).toMatchObject({ ok: true, differences: [] });
    expect(audit.totalSupply).toBe(audit.totalMinted);
  }, 90_000);

  it('gives unstaked credits back after the cooldown', async () => {
    const p = await pool.newAccount('provider', 'unstaker');
    await pool.admin.post(`/v1/accounts/${p.id}/credits`, { amount: 1000 });
    await p.api.post('/v1/stake', { amount: 1000 });
    const r = await p.api.post('/v1/unstake', { amount: 400 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ available: 0, staked: 600, unbonding: 400 });
    await eventually(async () => ((await balance(p.api)).available === 400 ? true : undefined), 10_000, 'unbonded credits to come back');
    expect(await balance(p.api)).toMatchObject({ available: 400, staked: 600, unbonding: 0 });
  }, 30_000);
});
