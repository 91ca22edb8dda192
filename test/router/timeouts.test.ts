// The router's wait for an answer: one that never starts is a 504 and is not sent again (the replica may
// have acted on it). (The 2 s connect wait is not shown here: this sandbox's egress answers every address.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, putService, request, startHarness, startReplica, type Harness, type Replica } from './harness';

let h: Harness;
const replicas: Replica[] = [];
const logs: string[] = [];

beforeAll(async () => {
  h = await startHarness({ location: { lat: 0, lon: 0 }, responseTimeoutMs: 500, log: (m) => logs.push(m) });
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await h?.stop();
});

describe('router waits', () => {
  it('an answer that does not start in time is a 504 problem, and no other replica gets the request', async () => {
    const id = newId('svc');
    const [mute, other] = [await startReplica(id, 'node-mute'), await startReplica(id, 'node-other')];
    replicas.push(mute, other);
    mute.answer = () => undefined; // reads the request, never answers
    const svc = await putService(h, { id, accountId: 'a1', replicas: [{ replica: mute, location: { lat: 0, lon: 0 } }, { replica: other, location: { lat: 40, lon: 0 } }] });
    const r = await request(h, { path: `/s/${id}/charge`, method: 'POST', headers: { 'x-gpupool-token': svc.token }, body: 'do it once' });
    expect(r.status).toBe(504);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(mute.seen).toHaveLength(1);
    expect(other.seen).toHaveLength(0);
  });
});
