// Attacks on the routing tier: paths that try to leave the service's prefix at the node, a replica that
// answers slowly, a node whose endpoint points at the router's own network.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, putService, request, startHarness, startReplica, type Harness, type Replica } from './harness';

let h: Harness;
const replicas: Replica[] = [];
const replica = async (serviceId: string) => {
  const r = await startReplica(serviceId, newId('node-'));
  replicas.push(r);
  return r;
};

beforeAll(async () => {
  h = await startHarness({ servicesDomain: 'svc.example.test' });
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await h?.stop();
});

const auth = (token: string) => ({ 'x-gpupool-token': token });

describe('router attacks', () => {
  it('a path with .. (raw, percent-encoded, or with backslashes) never leaves /s/<id>/ at the node', async () => {
    const id = newId('svc');
    const node = await replica(id);
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: node }] });
    const attempts: [string, string][] = [
      [`/s/${id}/../../v1/jobs`, `/s/${id}/v1/jobs`],
      [`/s/${id}/a/../../../v1/nodes?x=1`, `/s/${id}/v1/nodes?x=1`],
      [`/s/${id}/%2e%2e/%2E%2E/v1/jobs`, `/s/${id}/v1/jobs`],
      [`/s/${id}/.%2e/x`, `/s/${id}/x`],
      [`/s/${id}/..\\..\\v1\\jobs`, `/s/${id}/v1/jobs`],
      [`/s/${id}/./a/./b/..`, `/s/${id}/a/`],
      [`/s/${id}`, `/s/${id}/`],
    ];
    for (const [sent, expected] of attempts) {
      const r = await request(h, { path: sent, headers: auth(svc.token) });
      expect(r.status, sent).toBe(200);
      expect(node.seen.at(-1)!.url, sent).toBe(expected);
    }
    // and the service id itself cannot be a dot segment or carry a traversal
    for (const bad of ['/s/../v1/jobs', '/s/%2e%2e/v1/jobs', '/s/..%2fv1/jobs']) {
      expect((await request(h, { path: bad, headers: auth(svc.token) })).status, bad).toBe(404);
    }
  });

  it('a replica that answers slowly does not block the others: later requests go to the free replica and finish', async () => {
    const id = newId('svc');
    const [a, b] = [await replica(id), await replica(id)];
    const held: (() => void)[] = [];
    const hang = (r: Replica) => (r.answer = (_req, res) => void held.push(() => res.end('late')));
    hang(a);
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: a }, { replica: b }] });
    // two at once: one lands on each replica (fewest in flight); a's never answers while held
    const slow = [request(h, { path: `/s/${id}/1`, headers: auth(svc.token) }), request(h, { path: `/s/${id}/2`, headers: auth(svc.token) })];
    await expect.poll(() => a.seen.length).toBe(1);
    await Promise.race(slow);
    for (let i = 0; i < 10; i++) {
      const r = await request(h, { path: `/s/${id}/more/${i}`, headers: auth(svc.token) });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString()).node).toBe(b.nodeId);
    }
    expect(a.seen.length).toBe(1);
    held.splice(0).forEach((f) => f());
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
  });

  it("never connects to a node endpoint in the router's own network (metadata, private) outside the allowed classes", async () => {
    const id = newId('svc');
    const good = await replica(id);
    const svc = await putService(h, {
      id,
      accountId: 'a1',
      replicas: [
        { nodeId: 'evil-1', endpoint: 'http://169.254.169.254', location: { lat: 0, lon: 0 } },
        { nodeId: 'evil-2', endpoint: 'http://10.0.0.5:8080', location: { lat: 0, lon: 0 } },
        { replica: good },
      ],
    });
    for (let i = 0; i < 5; i++) {
      const r = await request(h, { path: `/s/${id}/`, headers: auth(svc.token) });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString()).node).toBe(good.nodeId);
    }
  });

  it('names a service by host (<id>.<servicesDomain>) as well as by path', async () => {
    const id = newId('svc');
    const node = await replica(id);
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: node }] });
    const r = await request(h, { path: '/v1/chat/../completions', headers: { ...auth(svc.token), host: `${id}.svc.example.test:443` } });
    expect(r.status).toBe(200);
    expect(node.seen.at(-1)!.url).toBe(`/s/${id}/v1/completions`);
    // another name under the domain is no service
    expect((await request(h, { path: '/', headers: { ...auth(svc.token), host: 'a.b.svc.example.test' } })).status).toBe(404);
  });
});
