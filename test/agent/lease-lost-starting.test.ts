// A lease that runs out while an attempt's /start is in flight (test/e2e/double-run-stress.test.ts caught it
// on a loaded machine): the control plane may already have written the node off and placed the job
// elsewhere, so when the start's answer finally comes the attempt must not run. Before, the lost lease
// stopped only the attempts already running; the starting one ran after it and its job ran twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeControlPlane, sessionOn } from './helpers/fake-control-plane';
import { dispatch, startAgent, type RunningAgent } from './helpers/agent';
import { startSqs, type LocalSqs } from './helpers/sqs';
import { until } from './helpers/lines';

let sqs: LocalSqs;
let cp: FakeControlPlane;
let agent: RunningAgent;

beforeAll(async () => {
  sqs = await startSqs();
  cp = new FakeControlPlane(() => sessionOn(sqs, { heartbeat: { busySeconds: 1, idleSeconds: 1 } }));
  await cp.start();
  cp.responders.set('heartbeat', () => ({ status: 200, body: { nextHeartbeatSeconds: 1, leaseSeconds: 2, stale: [], cancel: [] } }));
  agent = startAgent(cp.url);
  await agent.ready();
});

afterAll(async () => {
  cp?.responders.set('heartbeat', () => ({ status: 200, body: { nextHeartbeatSeconds: 1, stale: [], cancel: [] } }));
  await agent?.stop();
  await cp?.close();
  await sqs?.close();
});

describe('a lease lost while an attempt is starting', () => {
  it('does not run the attempt when its start answer comes after the lease ran out', async () => {
    const msg = dispatch(['sh', '-c', 'echo ran']);
    let releaseBeats!: () => void;
    const beatsHeld = new Promise<void>((r) => (releaseBeats = r));
    cp.responders.set('start', async (c) => {
      if (c.body.attemptId !== msg.attemptId) return { status: 200, body: {} };
      // from now on no heartbeat is answered: the lease runs out while this start is in flight
      cp.responders.set('heartbeat', async () => {
        await beatsHeld;
        return { status: 200, body: { nextHeartbeatSeconds: 1, stale: [], cancel: [] } };
      });
      await until(() => agent.logs.some((l) => l.msg === 'lease expired without renewal: stopping running attempts'), 10_000, 'the lease to run out');
      return { status: 200, body: {} };
    });
    // a lease is held (a heartbeat answered with one) before the dispatch comes
    await cp.waitFor('heartbeat', () => true);
    await sqs.send(msg);
    await until(() => agent.logs.some((l) => l.attemptId === msg.attemptId && typeof l.msg === 'string' && /not running it|attempt started/.test(l.msg)), 15_000, 'the agent to decide about the attempt');
    releaseBeats();
    await new Promise((r) => setTimeout(r, 500));
    expect(agent.logs.filter((l) => l.msg === 'attempt started' && l.attemptId === msg.attemptId)).toEqual([]);
    expect(cp.of('finish', msg.attemptId)).toEqual([]);
  }, 30_000);
});
