// Replicated verification end to end on the local stack, with real agent processes: a job asking for
// 3 replicas runs on three nodes of three providers; one agent makes up its output
// (GPUPOOL_SIMULATED_DISHONEST=results); the verdict finds it in the minority and the submitted job fails
// verification. A disagreement on a consumer's job is no evidence against a node (the consumer's code
// decides what each replica prints), so the outvoted node is scored and loses a little reputation but is
// neither quarantined nor slashed, and the consumer pays each run it asked for; the audit stays clean.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const STAKE = 100_000_000; // 100 credits
let pool: Pool;

interface Member {
  provider: Awaited<ReturnType<Pool['newAccount']>>;
  nodeId: string;
}

beforeAll(async () => {
  pool = await startPool();
}, 60_000);
afterAll(async () => pool?.stop());

describe('replicated verification on the local stack', () => {
  const members: Member[] = [];
  let consumer: Awaited<ReturnType<Pool['newAccount']>>;

  beforeAll(async () => {
    consumer = await pool.newAccount('consumer', 'verifying consumer');
    // three providers with one node each, staked; the third lies about its results
    for (const [i, dishonest] of [undefined, undefined, 'results'].entries()) {
      const provider = await pool.newAccount('provider', `provider-${i}`);
      expect((await pool.admin.post(`/v1/accounts/${provider.id}/credits`, { amount: STAKE })).status).toBe(201);
      expect((await provider.api.post('/v1/stake', { amount: STAKE })).status).toBe(200);
      const agent = await pool.addAgent({ name: `replica-node-${i}`, gpus: '1xA100-80', providerKey: provider.key, env: dishonest ? { GPUPOOL_SIMULATED_DISHONEST: dishonest } : {} });
      members.push({ provider, nodeId: agent.nodeId });
    }
  }, 90_000);

  it('runs 3 replicas on three nodes and names the lying node as the minority, without quarantine or slash', async () => {
    const liar = members[2];
    const before = (await consumer.api.get('/v1/balance')).body;
    const submitted = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', 'echo 6x7=42'], resources: { gpus: 1 }, verification: { replicas: 3 } });
    expect(submitted.status).toBe(202);
    // the answer says each replica is billed
    expect(submitted.body.job.verification).toMatchObject({ replicas: 3, status: 'pending', billing: 'per-replica' });
    const id = submitted.body.job.id;

    const job = await eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
      return j.verification.status !== 'pending' ? j : undefined;
    }, 40_000, 'the replicas to end and the verdict');
    const v = job.verification;
    expect(v).toMatchObject({ replicas: 3, status: 'disagreed', minority: [liar.nodeId] });
    expect(new Set(v.siblings.map((s: { nodeId: string }) => s.nodeId))).toEqual(new Set(members.map((m) => m.nodeId)));
    const liarReplica = v.siblings.find((s: { nodeId: string }) => s.nodeId === liar.nodeId);
    const honest = v.siblings.filter((s: { nodeId: string }) => s.nodeId !== liar.nodeId);
    expect(honest[0].outputDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(honest[1].outputDigest).toBe(honest[0].outputDigest);
    expect(liarReplica.outputDigest).not.toBe(honest[0].outputDigest);
    expect(v.siblings.every((s: { exitCode: number }) => s.exitCode === 0)).toBe(true);
    // the replicas disagreed: the submitted job failed verification; the others keep what they did
    expect(job).toMatchObject({ status: 'FAILED', reason: 'VERIFICATION_MISMATCH' });
    expect(v.siblings.map((s: { status: string }) => s.status)).toEqual(['FAILED', 'SUCCEEDED', 'SUCCEEDED']);
    // every replica is a job of the consumer's, with its own cost; the liar's made-up output is in its logs
    const logs = (await consumer.api.get(`/v1/jobs/${liarReplica.jobId}/logs`)).body.items.map((l: { text: string }) => l.text);
    expect(logs).toContain('6x7=42 (made up)');
    // a sibling shows the same verdict
    expect((await consumer.api.get(`/v1/jobs/${honest[0].jobId}`)).body.job.verification).toMatchObject({ status: 'disagreed', minority: [liar.nodeId] });

    // the liar: a failed verification in its scores and a little less reputation; still ONLINE, no slash
    // (the verdict is written first; whoever wrote it then scores: wait for the score)
    const scores = await eventually(async () => {
      const s = (await liar.provider.api.get(`/v1/nodes/${liar.nodeId}/scores`)).body;
      return s.items.some((i: { kind: string }) => i.kind === 'verification') ? s : undefined;
    }, 10_000, 'the verification score');
    expect(scores.items.filter((i: { kind: string }) => i.kind === 'verification')).toMatchObject([{ ok: false, jobId: id, reason: expect.stringMatching(/output differs from the majority/) }]);
    expect(scores.rewards.filter((r: { kind: string }) => r.kind === 'slash')).toEqual([]);
    const node = (await liar.provider.api.get(`/v1/nodes/${liar.nodeId}`)).body.node;
    expect(node.status).toBe('ONLINE');
    expect(node.reputation).toBeGreaterThan(0);
    expect((await liar.provider.api.get('/v1/balance')).body.staked).toBe(STAKE);
    for (const m of members.slice(0, 2)) {
      expect((await m.provider.api.get(`/v1/nodes/${m.nodeId}`)).body.node.status).toBe('ONLINE');
      expect((await m.provider.api.get('/v1/balance')).body.staked).toBe(STAKE);
      const s = (await m.provider.api.get(`/v1/nodes/${m.nodeId}/scores`)).body.items.filter((i: { kind: string }) => i.kind === 'verification');
      expect(s).toMatchObject([{ ok: true, jobId: id }]);
    }

    // the consumer paid for the three runs it asked for; nobody paid it back from a stake
    const entries = (await consumer.api.get(`/v1/accounts/${consumer.id}/entries?limit=100`)).body.items;
    expect(entries.filter((e: { kind: string }) => e.kind === 'slash_refund')).toEqual([]);
    const charged = entries.filter((e: { kind: string }) => e.kind === 'charge');
    expect(charged.length).toBe(3);
    // a charge entry carries the attempt's whole price (fee included) in cause.paid
    type Charge = { amount: number; cause: { nodeId: string; paid?: number } };
    const paid = charged.reduce((s: number, e: Charge) => s + (e.cause.paid ?? e.amount), 0);
    const after = (await consumer.api.get('/v1/balance')).body;
    expect(after).toMatchObject({ available: before.available - paid, held: 0 });

    const audit = (await pool.admin.get('/v1/ledger/audit')).body;
    expect(audit).toMatchObject({ ok: true, differences: [] });
  }, 60_000);
});
