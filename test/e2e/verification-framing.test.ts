// Replicated verification cannot be turned against honest providers (issue 14, item 1), end to end on
// the local stack with three real agents of three staked providers:
// - the attack: a job whose replicas branch on GPUPOOL_JOB_ID. Every replica sees its group's
//   job id, so the branch is the same everywhere and the replicas agree;
// - every GPUPOOL_* variable a replica's job sees is the same on every replica, the attempt's own id
//   excepted (GPUPOOL_ATTEMPT_ID: unique per run, like a retry's);
// - a consumer that makes one node's replica differ on purpose (it branches on where it runs) gets a
//   `disagreed` verdict and a failed job, but no node is quarantined, no provider slashed and nobody
//   repaid from a slash: a disagreement on a consumer's job is not evidence against a node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const STAKE = 100_000_000; // 100 credits
let pool: Pool;

interface Member {
  provider: Awaited<ReturnType<Pool['newAccount']>>;
  nodeId: string;
  name: string;
}
type Sibling = { jobId: string; nodeId: string; status: string; outputDigest: string | null };

beforeAll(async () => {
  pool = await startPool();
}, 60_000);
afterAll(async () => pool?.stop());

describe('replicated verification is no weapon against honest providers', () => {
  const members: Member[] = [];
  let consumer: Awaited<ReturnType<Pool['newAccount']>>;

  beforeAll(async () => {
    consumer = await pool.newAccount('consumer', 'framing consumer');
    for (let i = 0; i < 3; i++) {
      const provider = await pool.newAccount('provider', `framing-provider-${i}`);
      expect((await pool.admin.post(`/v1/accounts/${provider.id}/credits`, { amount: STAKE })).status).toBe(201);
      expect((await provider.api.post('/v1/stake', { amount: STAKE })).status).toBe(200);
      const name = `framing-node-${i}`;
      const agent = await pool.addAgent({ name, gpus: '1xA100-80', providerKey: provider.key });
      members.push({ provider, nodeId: agent.nodeId, name });
    }
  }, 90_000);

  const verdictOf = (id: string) =>
    eventually(async () => {
      const j = (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
      return j.verification.status !== 'pending' ? j : undefined;
    }, 40_000, `the verdict of ${id}`);
  const output = async (jobId: string, stream = 'stdout') =>
    ((await consumer.api.get(`/v1/jobs/${jobId}/logs`)).body.items as { stream: string; text: string }[]).filter((l) => l.stream === stream).map((l) => l.text);
  const submit = async (script: string) => {
    const r = await consumer.api.post('/v1/jobs', { command: ['sh', '-c', script], resources: { gpus: 1 }, verification: { replicas: 3 } });
    expect(r.status).toBe(202);
    return r.body.job.id as string;
  };

  /** nobody was quarantined, slashed or repaid from a slash, and the books balance */
  async function expectNobodyPunished() {
    for (const m of members) {
      const node = (await m.provider.api.get(`/v1/nodes/${m.nodeId}`)).body.node;
      expect(node.status).toBe('ONLINE');
      expect(node.reputation).toBeGreaterThan(0);
      expect((await m.provider.api.get('/v1/balance')).body.staked).toBe(STAKE);
      expect((await m.provider.api.get(`/v1/nodes/${m.nodeId}/scores`)).body.rewards.filter((r: { kind: string }) => r.kind === 'slash')).toEqual([]);
    }
    const entries = (await consumer.api.get(`/v1/accounts/${consumer.id}/entries?limit=100`)).body.items;
    expect(entries.filter((e: { kind: string }) => e.kind === 'slash_refund')).toEqual([]);
    expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  }

  it("the issue's attack: replicas that branch on GPUPOOL_JOB_ID see the group's id, agree, and nobody is punished", async () => {
    const id = await submit('case "$GPUPOOL_JOB_ID" in *-r1) echo B;; *) echo A;; esac');
    const job = await verdictOf(id);
    expect(job.verification).toMatchObject({ replicas: 3, status: 'agreed' });
    expect(job.status).toBe('SUCCEEDED');
    const sibs = job.verification.siblings as Sibling[];
    expect(new Set(sibs.map((s) => s.nodeId))).toEqual(new Set(members.map((m) => m.nodeId)));
    for (const s of sibs) expect(await output(s.jobId)).toEqual(['A']);
    await expectNobodyPunished();
  }, 60_000);

  it("every replica's job sees the same GPUPOOL_* environment (its attempt id aside)", async () => {
    // stdout (what the replicas compare): every GPUPOOL_* variable but the attempt's own id; that one on
    // stderr. GPUPOOL_NODE_STATE is the process runtime's marker, and its input, output and checkpoint dirs
    // are node-local paths under the agent's state dir (development nodes only; in a container they are
    // /inputs, /outputs and /checkpoints on every node: test/e2e/docker-engine.test.ts)
    const id = await submit('env | grep "^GPUPOOL_" | grep -v "^GPUPOOL_ATTEMPT_ID=\\|^GPUPOOL_NODE_STATE=\\|^GPUPOOL_[A-Z]*_DIR=" | sort; echo "GPUPOOL_ATTEMPT_ID=$GPUPOOL_ATTEMPT_ID" >&2');
    const job = await verdictOf(id);
    // the same environment: the same output, so the replicas agree
    expect(job.verification).toMatchObject({ replicas: 3, status: 'agreed' });
    const sibs = job.verification.siblings as Sibling[];
    const envs = await Promise.all(sibs.map((s) => output(s.jobId)));
    expect(envs[0]).toContain(`GPUPOOL_JOB_ID=${id}`);
    for (const e of envs.slice(1)) expect(e).toEqual(envs[0]);
    // each run still has its own attempt id (fencing and retries rely on it)
    const attempts = await Promise.all(sibs.map(async (s) => (await output(s.jobId, 'stderr')).find((l) => l.startsWith('GPUPOOL_ATTEMPT_ID='))));
    expect(new Set(attempts)).toHaveProperty('size', 3);
  }, 60_000);

  it('a consumer that makes one node differ on purpose gets a verdict and a failed job, not a slash', async () => {
    // the node is told apart by where the process runtime runs the job (its state dir is the agent's name)
    const target = members[1];
    const before = (await target.provider.api.get(`/v1/nodes/${target.nodeId}`)).body.node.reputation;
    const id = await submit(`case "$(pwd)" in */${target.name}/*) echo B;; *) echo A;; esac`);
    const job = await verdictOf(id);
    // the verdict is still reported: the outvoted node is named, the submitted job failed verification
    expect(job.verification).toMatchObject({ replicas: 3, status: 'disagreed', minority: [target.nodeId] });
    expect(job).toMatchObject({ status: 'FAILED', reason: 'VERIFICATION_MISMATCH' });
    // the outvoted node's score records the disagreement; its reputation drops a little, no more
    // (the verdict is written first, then its decider scores: wait for the score)
    const score = await eventually(async () => {
      const items = (await target.provider.api.get(`/v1/nodes/${target.nodeId}/scores`)).body.items as { kind: string; jobId: string; ok: boolean }[];
      return items.find((i) => i.kind === 'verification' && i.jobId === id);
    }, 10_000, 'the outvoted node\'s score');
    expect(score).toMatchObject({ ok: false });
    const rep = await eventually(async () => {
      const r = (await target.provider.api.get(`/v1/nodes/${target.nodeId}`)).body.node.reputation as number;
      return r < before ? r : undefined;
    }, 10_000, 'the outvoted node\'s reputation to drop');
    expect(rep).toBeLessThan(before);
    expect(rep).toBeGreaterThan(before * 0.9);
    // the consumer paid each run it asked for: three charges, no refund from anyone's stake
    const entries = (await consumer.api.get(`/v1/accounts/${consumer.id}/entries?limit=100`)).body.items;
    const charges = entries.filter((e: { kind: string; cause: { jobId?: string } }) => e.kind === 'charge' && e.cause.jobId?.startsWith(id));
    expect(charges).toHaveLength(3);
    await expectNobodyPunished();
  }, 60_000);
});
