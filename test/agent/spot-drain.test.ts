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

  it("saves the attempt's checkpoint before it hands the attempt back, so the next attempt continues from it", async () => {
    imds.notice = undefined;
    agent = startAgent(cp.url, { GPUPOOL_SPOT_WATCH: '1', GPUPOOL_IMDS_ENDPOINT: imds.url, GPUPOOL_DRAIN_SECONDS: '3600' });
    await agent.ready();
    // an hour between periodic saves: only the notice's drain can explain a save within seconds
    const files = { inputs: [], maxInputBytes: 1_000_000, checkpoint: { intervalSeconds: 3600, restore: [] } };
    cp.responders.set('start', () => ({ status: 200, body: { status: 'RUNNING', files } }));
    const job = dispatch(['sh', '-c', 'echo 41 > "$GPUPOOL_CHECKPOINT_DIR/count"; echo counted; exec sleep 60']);
    await sqs.send(job);
    await cp.waitFor('logs', (c) => c.body.attemptId === job.attemptId && JSON.stringify(c.body).includes('counted'), 15_000);
    expect(cp.of('checkpoint', job.attemptId)).toEqual([]);

    imds.notice = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() };
    const commit = await cp.waitFor('checkpoint', (c) => c.body.attemptId === job.attemptId && c.body.commit === true, 15_000);
    const saved = commit.body.files as { path: string; size: number; sha256: string }[];
    expect(saved.map((f) => f.path)).toEqual(['count']);
    expect(cp.uploads.get(saved[0].sha256)?.toString()).toBe('41\n');
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === job.attemptId, 15_000);
    expect(finish.body).toMatchObject({ outcome: 'cancelled', error: 'agent drained' });
    // saved, then handed back: the control plane re-places the job with this checkpoint to restore
    expect(cp.calls.indexOf(commit)).toBeLessThan(cp.calls.indexOf(finish));
    expect(await agent.stop()).toBe(0);
    agent = undefined;
  }, 40_000);
});
