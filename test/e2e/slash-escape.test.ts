// Issue 14 item 2 on the local stack with real agents: a provider whose node was caught lying cannot walk
// away from the slash by deregistering the node and unstaking. Evidence that arrives after
// `DELETE /v1/nodes/{id}` + `POST /v1/unstake` (a canary judged later, a spec lie whose probe was in flight)
// still slashes the stake that backed the node. The checker is run by the test (its timer is an hour), so
// the DELETE lands exactly between the lie and its verdict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LEDGER } from '../../functions/domain/ledger/model';
import { FINAL_JOB_STATUSES } from '../../functions/domain/model';
import { shardOf } from '../../functions/store/shard';
import { runChecker } from '../../functions/usecases/checker';
import { httpProber } from '../../functions/usecases/checker-probe-client';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const STAKE_PER_GPU = 50_000_000;
const STAKED = 200_000_000;
const SLASH_BPS = 1000;
let pool: Pool;

beforeAll(async () => {
  pool = await startPool({
    checkerMs: 3_600_000,
    checker: { canaryRate: 1, probeTimeoutMs: 3_000 },
    settings: { ledger: { ...DEFAULT_LEDGER, minStakePerGpu: STAKE_PER_GPU, slashBps: SLASH_BPS, unstakeCooldownMs: 120_000 } },
  });
}, 60_000);
afterAll(async () => pool?.stop());

async function stakedProvider(name: string) {
  const p = await pool.newAccount('provider', name);
  expect((await pool.admin.post(`/v1/accounts/${p.id}/credits`, { amount: STAKED })).status).toBe(201);
  expect((await p.api.post('/v1/stake', { amount: STAKED })).status).toBe(200);
  return p;
}

type Provider = Awaited<ReturnType<typeof stakedProvider>>;
const bal = async (p: Provider) => (await p.api.get('/v1/balance')).body as { available: number; staked: number; unbonding: number };
/** everything the provider still has at stake: free, locked and unbonding */
const atStake = async (p: Provider) => {
  const b = await bal(p);
  return b.staked + b.unbonding;
};

/** The attacker's move: deregister the node and unstake all the free stake it can. */
async function walkAway(p: Provider, nodeId: string) {
  expect((await p.api.del(`/v1/nodes/${nodeId}`)).status).toBe(200);
  const free = (await p.api.get('/v1/balance')).body.stakeFree as number;
  if (free > 0) expect((await p.api.post('/v1/unstake', { amount: free })).status).toBe(200);
  // the stake that backed the node is not free to take
  expect((await p.api.post('/v1/unstake', { amount: STAKE_PER_GPU })).status).toBe(409);
}

async function slashOf(p: Provider, nodeId: string) {
  const rewards = (await p.api.get(`/v1/nodes/${nodeId}/scores`)).body.rewards as { kind: string; posted: boolean; slashed?: number }[];
  return rewards.find((r) => r.kind === 'slash');
}

describe('a provider cannot walk away from a slash', () => {
  it('slashes on a canary judged after DELETE + unstake', async () => {
    const provider = await stakedProvider('canary walker');
    const agent = await pool.addAgent({ name: 'canary-walker', gpus: '1xL40S-48', providerKey: provider.key, env: { GPUPOOL_SIMULATED_DISHONEST: 'canary' } });
    const d = pool.stack.deps;
    const before = await atStake(provider);
    expect(before).toBe(STAKED);

    // run 1 probes the node and sends it a canary; the node prints a wrong answer and the job ends
    expect((await runChecker(d)).canariesSent).toBe(1);
    const canary = (await d.scores.pendingCanaries(shardOf(agent.nodeId))).find((c) => c.target === agent.nodeId)!;
    await eventually(async () => {
      const j = await d.jobs.get(canary.jobId);
      return j && FINAL_JOB_STATUSES.includes(j.status) ? j : undefined;
    }, 30_000, 'the canary to end');

    await walkAway(provider, agent.nodeId);

    // run 2 judges the canary: the wrong answer is evidence, though the node is gone
    expect((await runChecker(d)).canariesJudged).toBe(1);
    const slash = await slashOf(provider, agent.nodeId);
    expect(slash).toMatchObject({ posted: true, slashed: (STAKE_PER_GPU * SLASH_BPS) / 10_000 });
    expect(await atStake(provider)).toBe(before - slash!.slashed!);
    expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  }, 90_000);

  it('slashes on a spec lie whose probe answer arrives after DELETE + unstake', async () => {
    const provider = await stakedProvider('spec walker');
    const agent = await pool.addAgent({ name: 'spec-walker', gpus: '1xA100-80', providerKey: provider.key, env: { GPUPOOL_SIMULATED_DISHONEST: 'gpus' } });
    const d = pool.stack.deps;
    const before = await atStake(provider);
    const probe = httpProber({ allow: d.settings.checker.allowAddresses });
    // the provider deregisters and unstakes while the checker's probe of its node is in flight
    const prober: typeof probe = async (url, body, timeoutMs) => {
      const reply = await probe(url, body, timeoutMs);
      if (body.probe.nodeId === agent.nodeId) await walkAway(provider, agent.nodeId);
      return reply;
    };
    const r = await runChecker(d, { prober });
    expect(r.failed).toBe(1);
    const slash = await eventually(() => slashOf(provider, agent.nodeId), 10_000, 'the slash');
    expect(slash).toMatchObject({ posted: true, slashed: (STAKE_PER_GPU * SLASH_BPS) / 10_000 });
    expect(await atStake(provider)).toBe(before - slash!.slashed!);
    expect((await pool.stack.deps.nodes.get(agent.nodeId))?.status).toBe('DEREGISTERED');
    expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  }, 90_000);
});
