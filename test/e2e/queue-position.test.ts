// Where a waiting job stands (issue 20): GET /v1/jobs/{id} shows `queue: {position, ahead,
// estimatedStartAt}` for a QUEUED job. On the local stack over HTTP: jobs of two accounts wait with no
// capacity; their positions follow the sweep's fair order (accounts in turns, oldest first) among jobs
// of the same kind, other kinds only counted in `ahead`; a node with four GPUs then comes into service
// and one sweep places them in exactly that order; while they run, the next two A100 jobs' estimates are
// the first and second running ends (start + max duration), another kind's none. Another account's view
// shows only counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
let a: Awaited<ReturnType<Pool['newAccount']>>;
let b: Awaited<ReturnType<Pool['newAccount']>>;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let nodeId: string;

beforeAll(async () => {
  pool = await startPool();
  provider = await pool.newAccount('provider');
  a = await pool.newAccount('consumer', 'qa');
  b = await pool.newAccount('consumer', 'qb');
  // the capacity is there but drained: no job is placed until the test undrains it, with the agent
  // already settled (its registration's writes would race the first claims)
  ({ nodeId } = await pool.addAgent({ name: 'q-a100', gpus: '4xA100-80', providerKey: provider.key }));
  expect((await provider.api.patch(`/v1/nodes/${nodeId}`, { drain: true })).status).toBe(200);
}, 90_000);
afterAll(async () => pool?.stop());

const spec = (name: string, gpuModels = ['A100']) => ({ name, command: ['sh', '-c', 'sleep 4'], resources: { gpus: 1, gpuModels }, maxDurationSeconds: 60, maxAttempts: 1 });
const view = async (api: typeof a.api, id: string) => (await api.get(`/v1/jobs/${id}`)).body.job;

describe('queue position on the local stack', () => {
  it('positions follow the sweep order, and the jobs are then placed in that order', async () => {
    const submit = async (api: typeof a.api, name: string, models?: string[]) => {
      const r = await api.post('/v1/jobs', spec(name, models));
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      // a distinct createdAt for each, so the order is not decided by id
      await new Promise((res) => setTimeout(res, 5));
      return r.body.job.id as string;
    };
    const a1 = await submit(a.api, 'a1');
    const a2 = await submit(a.api, 'a2');
    const b1 = await submit(b.api, 'b1');
    const bh = await submit(b.api, 'bh', ['H100']);
    const a3 = await submit(a.api, 'a3');
    // fair order: a1, b1, a2, bh, a3 (accounts in turns, each oldest first); bh is another kind
    const expected: [typeof a.api, string, number, number][] = [
      [a.api, a1, 1, 0],
      [b.api, b1, 2, 1],
      [a.api, a2, 3, 2],
      [b.api, bh, 1, 3],
      [a.api, a3, 4, 4],
    ];
    for (const [api, id, position, ahead] of expected) {
      const q = (await view(api, id)).queue;
      expect(q, id).toEqual({ position, ahead, estimatedStartAt: null });
    }
    // lists never carry it (its reads are bounded per GET of one job)
    expect((await a.api.get('/v1/jobs')).body.items.every((j: any) => j.queue === undefined)).toBe(true);

    // capacity for all four at once: one sweep places them, in the order the positions said
    expect((await provider.api.patch(`/v1/nodes/${nodeId}`, { drain: false })).status).toBe(200);
    const order = [a1, b1, a2, a3];
    const apiOf = (id: string) => (id === b1 ? b.api : a.api);
    const placed = await eventually(async () => {
      const all = await Promise.all(order.map((id) => view(apiOf(id), id)));
      return all.every((j) => j.attempts.length > 0) ? all : undefined;
    }, 30_000, 'the A100 jobs placed');
    const placedAt = placed.map((j) => j.attempts[0].assignedAt);
    expect([...placedAt].sort((x, y) => x - y)).toEqual(placedAt);
    expect((await view(b.api, bh)).status).toBe('QUEUED');

    // while they run: the next A100 job may start when the first of them ends at the latest (its start +
    // its max duration), the one after it when the second does; an H100 job behind bh has no estimate
    const running = await eventually(async () => {
      const all = await Promise.all(order.map((id) => view(apiOf(id), id)));
      return all.every((j) => j.status === 'RUNNING') ? all : undefined;
    }, 30_000, 'the A100 jobs running');
    const ends = running.map((j) => j.attempts[0].startedAt + 60_000).sort((x, y) => x - y);
    const c1 = await submit(a.api, 'c1');
    const c2 = await submit(a.api, 'c2');
    expect((await view(a.api, c1)).queue).toEqual({ position: 1, ahead: 1, estimatedStartAt: ends[0] });
    expect((await view(a.api, c2)).queue).toEqual({ position: 2, ahead: 2, estimatedStartAt: ends[1] });
    expect((await view(b.api, bh)).queue).toEqual({ position: 1, ahead: 0, estimatedStartAt: null });
    // out of the next test's way (round-robin turns count jobs of every kind)
    for (const id of [c1, c2]) await a.api.del(`/v1/jobs/${id}`);
  }, 120_000);

  it("another account's job is 404; a job's own view names no other job or account", async () => {
    const id = (await a.api.post('/v1/jobs', spec('secret-name', ['H100']))).body.job.id;
    expect((await b.api.get(`/v1/jobs/${id}`)).status).toBe(404);
    const q = (await view(b.api, (await b.api.post('/v1/jobs', spec('mine', ['H100']))).body.job.id)).queue;
    expect(Object.keys(q).sort()).toEqual(['ahead', 'estimatedStartAt', 'position']);
    expect(JSON.stringify(q)).not.toMatch(new RegExp(`${id}|${a.id}|secret-name`));
    expect(q.position).toBe(3);
  }, 30_000);
});
