// Gangs end to end on the local stack with real agents: a 2-node job runs one rank per node, each told
// its rank, the world size and the master; killing one rank's agent re-places the whole gang.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let provider: Awaited<ReturnType<Pool['newAccount']>>;

const job = async (id: string) => (await consumer.api.get(`/v1/jobs/${id}`)).body.job;
const waitFinal = (id: string, timeoutMs = 30_000) => eventually(async () => ((j) => (FINAL.includes(j?.status) ? j : undefined))(await job(id)), timeoutMs, `job ${id} to end`);
const lines = async (id: string): Promise<string[]> => (await consumer.api.get(`/v1/jobs/${id}/logs`)).body.items.map((l: { text: string }) => l.text);
const ranksOf = (j: any) => j.gang.attemptIds.map((id: string) => j.attempts.find((a: any) => a.id === id));

beforeAll(async () => {
  pool = await startPool();
  provider = await pool.newAccount('provider');
  consumer = await pool.newAccount('consumer');
}, 60_000);

afterAll(async () => {
  await pool?.stop();
});

describe('gangs on the local stack', () => {
  it('runs a 2-node gang: both ranks run at once, each with its rank, the world size and the master', async () => {
    const [a, b] = await Promise.all([
      pool.addAgent({ name: 'gang-a', gpus: '1xA100-80', providerKey: provider.key }),
      pool.addAgent({ name: 'gang-b', gpus: '1xA100-80', providerKey: provider.key }),
    ]);
    const r = await consumer.api.post('/v1/jobs', {
      command: ['sh', '-c', 'echo $GPUPOOL_RANK $GPUPOOL_WORLD_SIZE $GPUPOOL_MASTER_ADDR $GPUPOOL_MASTER_PORT $GPUPOOL_PEERS'],
      resources: { gpus: 1, nodes: 2, gpuModels: ['A100'] },
    });
    expect(r.status).toBe(202);
    expect(r.body.job.status).toBe('ASSIGNED');
    const done = await waitFinal(r.body.job.id);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    const ranks = ranksOf(done);
    expect(ranks.map((x: any) => [x.rank, x.status])).toEqual([
      [0, 'SUCCEEDED'],
      [1, 'SUCCEEDED'],
    ]);
    expect(new Set(ranks.map((x: any) => x.nodeId))).toEqual(new Set([a.nodeId, b.nodeId]));
    // every rank's line arrived, and they agree on the rendezvous (the local agents listen on loopback)
    const { masterPort, peers } = done.gang;
    expect(peers).toEqual([`127.0.0.1:${masterPort}`, `127.0.0.1:${masterPort}`]);
    const out = await lines(done.id);
    for (const rank of [0, 1]) expect(out).toContain(`${rank} 2 127.0.0.1 ${masterPort} ${peers.join(',')}`);
    // both ranks' GPUs came back
    const free = await Promise.all([a, b].map(async (x) => (await pool.stack.deps.nodes.get(x.nodeId))!.freeGpus));
    expect(free).toEqual([1, 1]);
    await Promise.all([a.stop(), b.stop()]);
  }, 90_000);

  it("re-places the whole gang when one rank's agent is killed", async () => {
    const agents = await Promise.all(['x', 'y', 'z'].map((n) => pool.addAgent({ name: `gang-${n}`, gpus: '1xH100-80', providerKey: provider.key })));
    // ranks wait for a go file; a rank whose agent died ends on its own (its parent is gone)
    const go = path.join(pool.dir, 'gang-go');
    const r = await consumer.api.post('/v1/jobs', {
      command: ['sh', '-c', `echo rank $GPUPOOL_RANK of $GPUPOOL_WORLD_SIZE; while [ ! -f ${go} ] && kill -0 $PPID 2>/dev/null; do sleep 0.1; done`],
      resources: { gpus: 1, nodes: 2, gpuModels: ['H100'] },
    });
    const first = await eventually(async () => ((j) => (j?.status === 'RUNNING' ? j : undefined))(await job(r.body.job.id)), 20_000, 'the gang running');
    const [rank0, rank1] = ranksOf(first);
    const victim = agents.find((a) => a.nodeId === rank1.nodeId)!;
    // the start put the node on the busy deadline, so the reaper notices the kill in seconds; both ranks'
    // first lines are shipped (every 250 ms) before the kill, so the output shows each rank's two runs
    const busy = pool.stack.deps.settings.heartbeat.busySeconds;
    await eventually(async () => ((await pool.stack.deps.nodes.get(victim.nodeId))!.heartbeatSeconds === busy ? true : undefined), 30_000, 'a busy heartbeat');
    await eventually(async () => ((await lines(first.id)).length === 2 ? true : undefined), 30_000, "both ranks' first lines");
    victim.proc.kill('SIGKILL');
    // the reaper writes the node off; the whole gang goes back and runs on the two nodes left
    const moved = await eventually(
      async () => ((j) => (j?.status === 'RUNNING' && j.attempts.length === 4 ? j : undefined))(await job(first.id)),
      45_000,
      'the gang running again',
    );
    const second = ranksOf(moved);
    expect(new Set(second.map((x: any) => x.nodeId))).toEqual(new Set(agents.filter((a) => a !== victim).map((a) => a.nodeId)));
    writeFileSync(go, '');
    const done = await waitFinal(first.id);
    expect(done.status, JSON.stringify(done)).toBe('SUCCEEDED');
    const old = done.attempts.filter((a: any) => a.id === rank0.id || a.id === rank1.id);
    expect(old.find((a: any) => a.id === rank1.id)).toMatchObject({ status: 'LOST', reason: 'NODE_LOST' });
    expect(old.find((a: any) => a.id === rank0.id)).toMatchObject({ status: 'LOST', reason: 'GANG_ABORTED', charged: 0 });
    expect(ranksOf(done).map((x: any) => x.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const out = await lines(done.id);
    expect(out.filter((l) => l === 'rank 0 of 2')).toHaveLength(2);
    expect(out.filter((l) => l === 'rank 1 of 2')).toHaveLength(2);
    // the ledger still balances after a lost gang and a successful one
    expect((await pool.admin.get('/v1/ledger/audit')).body.ok).toBe(true);
    await Promise.all(agents.filter((a) => a !== victim).map((a) => a.stop()));
  }, 120_000);
});
