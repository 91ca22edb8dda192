// Issue 14 item 4 on the local stack with real agents: taking a node out of service (deregistration,
// quarantine) is one operation that completes exactly once even when it is cut at any step. The test
// cuts it after each step in turn (a failure injected through deps.faults, as a crashed Lambda or a
// timeout would), lets the reaper tick finish it, and checks: the attempt on the node ended once and the
// job was re-placed once, the stake lock released once (deregistration) or slashed once (quarantine),
// the ledger audit clean, and a retried DELETE answers 200.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LEDGER } from '../../functions/domain/ledger/model';
import { REMOVAL_STEPS } from '../../functions/domain/node/removal';
import { quarantineNode } from '../../functions/usecases/checker';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const STAKE_PER_GPU = 50_000_000;
const SLASH_BPS = 1000;
let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let spare: Awaited<ReturnType<Pool['addAgent']>>;
let victims = 0;

beforeAll(async () => {
  pool = await startPool({
    // the hold of a deregistered node's stake: 2 s here, so the release step runs within the test
    settings: { ledger: { ...DEFAULT_LEDGER, minStakePerGpu: STAKE_PER_GPU, slashBps: SLASH_BPS, unstakeCooldownMs: 2_000, verdictGraceMs: 0 } },
  });
  provider = await pool.newAccount('provider', 'cut provider');
  consumer = await pool.newAccount('consumer', 'cut consumer');
  expect((await pool.admin.post(`/v1/accounts/${provider.id}/credits`, { amount: 20 * STAKE_PER_GPU })).status).toBe(201);
  expect((await provider.api.post('/v1/stake', { amount: 20 * STAKE_PER_GPU })).status).toBe(200);
  spare = await pool.addAgent({ name: 'spare', gpus: '1xA100-80', providerKey: provider.key });
}, 90_000);
afterAll(async () => {
  if (pool) pool.stack.deps.faults = undefined;
  await pool?.stop();
});

/** Throws once at `point` for `nodeId`; answers whether it has fired. */
function cutOnce(point: string, nodeId: string): () => boolean {
  let fired = false;
  pool.stack.deps.faults = (p, subject) => {
    if (!fired && p === point && subject === nodeId) {
      fired = true;
      throw new Error(`cut at ${point}`);
    }
  };
  return () => fired;
}

const jobOf = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}`)).body.job;

/** A fresh node running a long job (the spare drained meanwhile, so the job lands on the victim). */
async function victimWithJob() {
  expect((await provider.api.patch(`/v1/nodes/${spare.nodeId}`, { drain: true })).status).toBe(200);
  const agent = await pool.addAgent({ name: `victim-${++victims}`, gpus: '1xA100-80', providerKey: provider.key });
  const submitted = await consumer.api.post('/v1/jobs', { command: ['sleep', '120'], resources: { gpus: 1, gpuModels: ['A100'] }, maxAttempts: 5 });
  expect(submitted.status).toBe(202);
  const job = await eventually(async () => {
    const j = await jobOf(submitted.body.job.id);
    return j.status === 'RUNNING' ? j : undefined;
  }, 30_000, 'the job running');
  expect(job.nodeId).toBe(agent.nodeId);
  expect((await provider.api.patch(`/v1/nodes/${spare.nodeId}`, { drain: false })).status).toBe(200);
  return { agent, jobId: job.id as string };
}

async function entriesFor(nodeId: string) {
  const d = pool.stack.deps;
  const unlocks = (await d.ledger.ofKind(provider.id, 'credit', 'unlock')).filter((e) => e.cause.nodeId === nodeId);
  const slashes = [
    ...(await d.ledger.ofKind(provider.id, 'debit', 'slash_treasury')),
    ...(await d.ledger.ofKind(provider.id, 'debit', 'slash_refund')),
  ].filter((e) => e.cause.nodeId === nodeId);
  return { unlocks: unlocks.length, slashPostings: new Set(slashes.map((e) => e.id.split('#')[0])).size };
}

async function checkOutcome(nodeId: string, jobId: string, reason: 'NODE_DEREGISTERED' | 'NODE_QUARANTINED') {
  const d = pool.stack.deps;
  // the finisher (the reaper tick) completes every step
  const node = await eventually(async () => {
    const n = await d.nodes.get(nodeId);
    return n?.removal && n.removal.pending.length === 0 ? n : undefined;
  }, 30_000, 'the removal to finish');
  // the job was re-placed once, on the spare
  const job = await eventually(async () => {
    const j = await jobOf(jobId);
    return j.status === 'RUNNING' && j.nodeId === spare.nodeId ? j : undefined;
  }, 30_000, 'the job running on the spare');
  expect(job.attempts).toHaveLength(2);
  expect(job.attempts[0]).toMatchObject({ nodeId, status: 'LOST', reason });
  expect(job.attempts[1]).toMatchObject({ nodeId: spare.nodeId, status: 'RUNNING' });
  expect(await d.jobs.liveOnNode(nodeId)).toHaveLength(0);
  const ledger = await entriesFor(nodeId);
  if (reason === 'NODE_DEREGISTERED') {
    expect(ledger).toEqual({ unlocks: 1, slashPostings: 0 });
    expect(node.stakeLocked).toBe(0);
  } else {
    expect(ledger).toEqual({ unlocks: 0, slashPostings: 1 });
    expect(node.stakeLocked).toBe(STAKE_PER_GPU - (STAKE_PER_GPU * SLASH_BPS) / 10_000);
  }
  expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  // end the case: cancel the job (the spare is free again) and stop the victim's agent
  expect((await consumer.api.del(`/v1/jobs/${jobId}`)).status).toBe(202);
  await eventually(async () => ((await jobOf(jobId)).status === 'CANCELLED' ? true : undefined), 30_000, 'the job cancelled');
  return node;
}

async function stopAgent(a: { stop: (s?: NodeJS.Signals) => Promise<unknown> }) {
  const i = pool.agents.indexOf(a as never);
  if (i >= 0) pool.agents.splice(i, 1);
  await a.stop('SIGKILL');
}

describe('removing a node completes exactly once when cut at any step', () => {
  const deregisterPoints = ['status', ...REMOVAL_STEPS.filter((s) => s !== 'slash')];
  it.each(deregisterPoints)('deregistration cut after %s', async (step) => {
    const { agent, jobId } = await victimWithJob();
    const fired = cutOnce(`removal:after:${step}`, agent.nodeId);
    const first = await provider.api.del(`/v1/nodes/${agent.nodeId}`);
    // the status write is the request's own: cut there, the DELETE fails. A later step is run by whichever
    // finisher gets to it first — the request or a reaper tick (every 500 ms here) that found the removal
    // pending — so the DELETE fails only if it was the one cut; the release is never due during the DELETE
    if (step === 'status') expect(first.status).toBe(500);
    else if (step === 'releaseStake') expect(first.status).toBe(200);
    else expect(first.status === 500 || (first.status === 200 && fired())).toBe(true);
    await eventually(async () => (fired() ? true : undefined), 30_000, 'the cut');
    await checkOutcome(agent.nodeId, jobId, 'NODE_DEREGISTERED');
    // a retried DELETE finds the work done: 200, not 409
    const again = await provider.api.del(`/v1/nodes/${agent.nodeId}`);
    expect(again.status).toBe(200);
    expect(again.body.node.status).toBe('DEREGISTERED');
    expect(await entriesFor(agent.nodeId)).toEqual({ unlocks: 1, slashPostings: 0 });
    await stopAgent(agent);
  }, 120_000);

  it('a DELETE cut by a store failure between the status write and the end of the attempts is finished by the reaper; a retry answers 200', async () => {
    const { agent, jobId } = await victimWithJob();
    const jobs = pool.stack.deps.jobs;
    const real = jobs.liveOnNode.bind(jobs);
    let cut = false;
    jobs.liveOnNode = async (nodeId) => {
      // only the removal's call (a heartbeat asks too): the node is already written DEREGISTERED then
      if (!cut && nodeId === agent.nodeId && (await pool.stack.deps.nodes.get(nodeId))?.status === 'DEREGISTERED') {
        cut = true;
        throw new Error('store unavailable');
      }
      return real(nodeId);
    };
    try {
      expect((await provider.api.del(`/v1/nodes/${agent.nodeId}`)).status).toBe(500);
    } finally {
      jobs.liveOnNode = real;
    }
    expect(cut).toBe(true);
    await checkOutcome(agent.nodeId, jobId, 'NODE_DEREGISTERED');
    expect((await provider.api.del(`/v1/nodes/${agent.nodeId}`)).status).toBe(200);
    await stopAgent(agent);
  }, 120_000);

  const quarantinePoints = ['status', ...REMOVAL_STEPS.filter((s) => s !== 'removeQueue' && s !== 'releaseStake')];
  it.each(quarantinePoints)('quarantine cut after %s', async (step) => {
    const { agent, jobId } = await victimWithJob();
    const fired = cutOnce(`removal:after:${step}`, agent.nodeId);
    // as for deregistration: a step after the status write may be met by a reaper tick first
    const first = quarantineNode(pool.stack.deps, agent.nodeId, 'canary printed 1, expected 2 (test evidence)');
    if (step === 'status') await expect(first).rejects.toThrow(/cut at/);
    else await first.catch((e: Error) => expect(e.message).toMatch(/cut at/));
    await eventually(async () => (fired() ? true : undefined), 30_000, 'the cut');
    const node = await checkOutcome(agent.nodeId, jobId, 'NODE_QUARANTINED');
    expect(node.status).toBe('QUARANTINED');
    // the same evidence again changes nothing
    expect(await quarantineNode(pool.stack.deps, agent.nodeId, 'again')).toBe(false);
    expect(await entriesFor(agent.nodeId)).toEqual({ unlocks: 0, slashPostings: 1 });
    await stopAgent(agent);
  }, 120_000);
});
