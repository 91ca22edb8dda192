// The agent with GPUPOOL_SPOT_WATCH=1 against a fake IMDS: when the spot interruption notice appears it
// drains like SIGTERM (heartbeats say draining, the queue is no longer polled) and hands its running
// attempt back at once, then stays up until it is stopped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnv, dispatch, startAgent, type RunningAgent } from './helpers/agent';
import { FakeControlPlane, sessionOn } from './helpers/fake-control-plane';
import { FakeImds } from './helpers/fake-imds';
import { startSqs, type LocalSqs } from './helpers/sqs';

let sqs: LocalSqs;
let cp: FakeControlPlane;
let imds: FakeImds;
let agent: RunningAgent | undefined;

beforeAll(async () => {
  sqs = await startSqs('node-spot', 30);
  cp = new FakeControlPlane(() => sessionOn(sqs));
  await cp.start();
  imds = await new FakeImds().start();
});

afterAll(async () => {
  await agent?.stop();
  await imds?.close();
  await cp?.close();
  await sqs?.close();
});

describe('spot interruption notice', () => {
  it('is the agent config\'s to turn on', () => {
    expect(agentEnv('http://x', '/tmp/x').GPUPOOL_SPOT_WATCH).toBeUndefined();
  });

  it('drains the agent and hands the running attempt back to the control plane at once', async () => {
    // a drain deadline of an hour: only the notice can explain an attempt handed back within seconds
    agent = startAgent(cp.url, { GPUPOOL_SPOT_WATCH: '1', GPUPOOL_IMDS_ENDPOINT: imds.url, GPUPOOL_DRAIN_SECONDS: '3600' });
    await agent.ready();
    const long = dispatch(['sh', '-c', 'echo started; exec sleep 60']);
    await sqs.send(long);
    await cp.waitFor('start', (c) => c.body.attemptId === long.attemptId);
    // the watcher is polling, and sees no notice yet
    await imds.waitFor((r) => r.method === 'GET');
    expect(cp.of('heartbeat').some((c) => c.body.draining)).toBe(false);

    imds.notice = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() };
    const beat = await cp.waitFor('heartbeat', (c) => c.body.draining === true, 15_000);
    expect(beat.body.running).toEqual([long.attemptId]);
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === long.attemptId, 15_000);
    // outcome cancelled without a user's cancel: the control plane puts the job back in the queue (NODE_DRAINED)
    expect(finish.body).toMatchObject({ outcome: 'cancelled', error: 'agent drained' });
    expect(agent.humans.some((h) => /spot interruption notice \(terminate at .*\): draining/.test(h))).toBe(true);

    // no new work: the queue is not polled any more
    const late = dispatch(['sh', '-c', 'echo must-not-run']);
    await sqs.send(late);
    // still running (exiting would let systemd restart it into a fresh session that takes work) ...
    const state = await Promise.race([agent.exit.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 500))]);
    expect(state).toBe('running');
    // ... until it is stopped, like SIGTERM
    expect(await agent.stop()).toBe(0);
    agent = undefined;
    expect(cp.of('start', late.attemptId)).toEqual([]);
  }, 40_000);
});
