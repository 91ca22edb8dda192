// Replicated verification's tie-breaker end to end on the local stack, with real agent processes: a job
// asking for 2 replicas runs on an honest node and a lying one (GPUPOOL_SIMULATED_DISHONEST=results); the
// two differ with no majority, so the submitted job ends FAILED / VERIFICATION_MISMATCH and one
// tie-breaker replica is queued. A third honest node (registered after the submit, so the first two
// replicas cannot go there) runs it; the liar is then the minority: named and scored, not quarantined or
// slashed (a consumer's job is no evidence against a node). The consumer pays three runs, and the ledger
// audit stays clean.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const STAKE = 100_000_000; // 100 credits
let pool: Pool;

beforeAll(async () => {
  pool = await startPool();
}, 60_000);
afterAll(async () => pool?.stop());

describe('replicated verification: the tie-breaker on the local stack', () => {
  it('runs a third replica on a third node when two disagree, names the liar and fails the job', async () => {
    const consumer = await pool.newAccount('consumer', 'tie-break consumer');
    const node = async (i: number, dishonest?: string) => {
      const provider = await pool.newAccount('provider', `tb-provider-${i}`);
      expect((await pool.admin.post(`/v1/accounts/${provider.id}/credits`, { amount: STAKE })).status).toBe(201);
      expect((await provider.api.post('/v1/stake', { amount: STAKE })).status).toBe(200);
      const agent = await pool.addAgent({ name: `tb-node-${i}`, gpus: '1xA100-80', providerKey: provider.key, env: dishonest ? { GPUPOOL_SIMULATED_DISHONEST: dishonest } : {} });
      return { provider, nodeId: agent.nodeId };
    };
    const honest = await node(0);
    const liar = await node(1, 'results');

    const submitted = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'echo 6x7=42'], resources: { gpus: 1 }, verification: { replicas: 2 } });
    expect(submitted.status).toBe(202);
    const id = submitted.body.job.id;
    // the two replicas disagree: the job fails verification and a tie-breaker waits for a node of neither
    const split = await eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
      return j.verification.tiebreaker ? j : undefined;
    }, 30_000, 'the disagreement and the tie-breaker');
    expect(split).toMatchObject({ status: 'FAILED', reason: 'VERIFICATION_MISMATCH' });
    expect(split.verification).toMatchObject({ replicas: 2, status: 'pending', tiebreaker: `${id}-r2`, billing: 'per-replica' });
    expect(new Set(split.verification.siblings.slice(0, 2).map((s: { nodeId: string }) => s.nodeId))).toEqual(new Set([honest.nodeId, liar.nodeId]));
    // the verdict names the tie-breaker before its first placement try has written why it waits
    const tb = await eventually(async () => ((j) => (j?.pendingReason ? j : undefined))((await consumer.api.get(`/v1/jobs/${id}-r2`)).body.job), 10_000, 'the tie-breaker placed or waiting');
    expect(tb).toMatchObject({ status: 'QUEUED', pendingReason: expect.stringMatching(/runs another replica/) });

    // a third honest node: the tie-breaker runs there and settles it
    const third = await node(2);
    const job = await eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
      return j.verification.status !== 'pending' ? j : undefined;
    }, 40_000, 'the tie-breaker and the final verdict');
    expect(job).toMatchObject({ status: 'FAILED', reason: 'VERIFICATION_MISMATCH' });
    expect(job.verification).toMatchObject({ replicas: 2, status: 'disagreed', minority: [liar.nodeId], tiebreaker: `${id}-r2` });
    const sibs = job.verification.siblings as { jobId: string; nodeId: string; status: string; outputDigest: string }[];
    expect(sibs.map((s) => s.jobId)).toEqual([id, `${id}-r1`, `${id}-r2`]);
    expect(sibs[2]).toMatchObject({ nodeId: third.nodeId, status: 'SUCCEEDED' });
    const byNode = new Map(sibs.map((s) => [s.nodeId, s.outputDigest]));
    expect(byNode.get(third.nodeId)).toBe(byNode.get(honest.nodeId));
    expect(byNode.get(liar.nodeId)).not.toBe(byNode.get(honest.nodeId));

    // the liar: scored as outvoted (wait for the score, written just after the verdict), not punished
    const liarScores = await eventually(async () => {
      const s = (await liar.provider.api.get(`/v1/nodes/${liar.nodeId}/scores`)).body;
      return s.items.some((i: { kind: string }) => i.kind === 'verification') ? s : undefined;
    }, 10_000, 'the verification score');
    expect(liarScores.items.filter((i: { kind: string }) => i.kind === 'verification')).toMatchObject([{ ok: false, jobId: id }]);
    expect(liarScores.rewards.filter((r: { kind: string }) => r.kind === 'slash')).toEqual([]);
    for (const m of [honest, liar, third]) expect((await m.provider.api.get(`/v1/nodes/${m.nodeId}`)).body.node.status).toBe('ONLINE');
    for (const m of [honest, third]) {
      const s = (await m.provider.api.get(`/v1/nodes/${m.nodeId}/scores`)).body.items.filter((i: { kind: string }) => i.kind === 'verification');
      expect(s).toMatchObject([{ ok: true, jobId: id }]);
    }
    // the consumer paid for every replica, the tie-breaker included
    const entries = (await consumer.api.get(`/v1/accounts/${consumer.id}/entries?limit=100`)).body.items;
    expect(entries.filter((e: { kind: string }) => e.kind === 'charge')).toHaveLength(3);
    expect((await consumer.api.get('/v1/balance')).body.held).toBe(0);
    const audit = (await pool.admin.get('/v1/ledger/audit')).body;
    expect(audit).toMatchObject({ ok: true, differences: [] });
  }, 120_000);
});
