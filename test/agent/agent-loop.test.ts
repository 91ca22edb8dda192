// The whole agent, in process, against a fake control plane and the real in-process SQS server.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeControlPlane, NODE_KEY, sessionOn } from './helpers/fake-control-plane';
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
  // Heartbeats every second, so the tests that act through heartbeat answers stay fast.
  cp.responders.set('heartbeat', () => ({ status: 200, body: { nextHeartbeatSeconds: 1, stale: [], cancel: [] } }));
  agent = startAgent(cp.url);
  await agent.ready();
});

afterAll(async () => {
  expect(await agent?.stop()).toBe(0);
  await cp?.close();
  await sqs?.close();
});

const texts = (lines: Array<{ text: string }>) => lines.map((l) => l.text);

describe('agent loop', () => {
  it('registered once with the provider key, stored the identity 0600, then used the node key', async () => {
    const [register] = cp.of('register');
    expect(register.key).toBe('pk_test_provider');
    expect(register.body).toMatchObject({ name: 'test-node', region: 'local', pricePerGpuHour: 2_000_000, labels: {} });
    expect(register.body.gpus).toHaveLength(2);
    expect(statSync(join(agent.stateDir, 'identity.json')).mode & 0o777).toBe(0o600);
    expect(cp.of('session')[0]).toMatchObject({ key: NODE_KEY, body: { running: [] } });
    expect(agent.humans.join('\n')).toMatch(/registered node node-1 \(2x A100 80 GB\)[\s\S]*session open: node node-1/);
  });

  it('runs a dispatch: start, then finish carrying the output (no logs request for a short job)', async () => {
    const msg = dispatch(['sh', '-c', 'echo hello; echo oops >&2; exit 4']);
    await sqs.send(msg);
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === msg.attemptId);
    // one start, carrying the agent's start counter (heartbeats list attempts against it: start-ack.ts)
    expect(cp.of('start', msg.attemptId)).toEqual([expect.objectContaining({ jobId: msg.jobId, key: NODE_KEY, body: { attemptId: msg.attemptId, seq: expect.any(Number) } })]);
    expect(finish.jobId).toBe(msg.jobId);
    expect(finish.body).toMatchObject({ attemptId: msg.attemptId, exitCode: 4, outcome: 'exited' });
    expect(finish.body.lines.map((l: any) => [l.stream, l.text]).sort()).toEqual([['stderr', 'oops'], ['stdout', 'hello']]);
    expect(cp.of('logs', msg.attemptId)).toEqual([]);
    await until(async () => (await sqs.depth()) === 0, 5_000, 'the message to be deleted');
  });

  it('streams a longer job’s output in sequence across logs and finish', async () => {
    const msg = dispatch(['sh', '-c', 'i=0; while [ $i -lt 250 ]; do echo line$i; i=$((i+1)); done; sleep 0.4; echo last']);
    await sqs.send(msg);
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === msg.attemptId);
    const lines = [...cp.of('logs', msg.attemptId).flatMap((c) => c.body.lines), ...finish.body.lines];
    expect(cp.of('logs', msg.attemptId).length).toBeGreaterThan(0);
    expect(lines.map((l: any) => l.seq)).toEqual([...Array(251).keys()]);
    expect(texts(lines).slice(-2)).toEqual(['line249', 'last']);
  });

  it('does not run a dispatch whose start answers 409, and deletes it', async () => {
    const msg = dispatch(['sh', '-c', 'echo must-not-run']);
    cp.responders.set('start', (c) => (c.body.attemptId === msg.attemptId ? { status: 409 } : { status: 200, body: {} }));
    await sqs.send(msg);
    await cp.waitFor('start', (c) => c.body.attemptId === msg.attemptId);
    await until(async () => (await sqs.depth()) === 0, 5_000, 'the message to be deleted');
    await new Promise((r) => setTimeout(r, 300)); // a run would finish within this; nothing may come
    expect(cp.of('finish', msg.attemptId)).toEqual([]);
  });

  it('ignores a repeated dispatch of an attempt it runs, and cancels on a cancel message', async () => {
    const msg = dispatch(['sh', '-c', 'echo ready; exec sleep 30']);
    await sqs.send(msg);
    await cp.waitFor('start', (c) => c.body.attemptId === msg.attemptId);
    await sqs.send(msg);
    await until(async () => (await sqs.depth()) === 0, 5_000, 'both messages to be deleted');
    expect(cp.of('start', msg.attemptId)).toHaveLength(1);
    await sqs.send({ type: 'cancel', jobId: msg.jobId, attemptId: msg.attemptId });
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === msg.attemptId);
    expect(finish.body).toMatchObject({ outcome: 'cancelled', exitCode: 143 });
    expect(texts(finish.body.lines)).toEqual(expect.arrayContaining(['ready', 'gpupool: stopping attempt (cancelled)']));
  });

  it('leaves a dispatch on the queue when start fails, and runs it when it comes back', async () => {
    const msg = dispatch(['sh', '-c', 'echo second-try']);
    let tries = 0;
    cp.responders.set('start', (c) => (c.body.attemptId === msg.attemptId && ++tries === 1 ? { status: 503 } : { status: 200, body: {} }));
    await sqs.send(msg);
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === msg.attemptId);
    expect(tries).toBe(2);
    expect(finish.body).toMatchObject({ outcome: 'exited', exitCode: 0 });
  });

  it('kills an attempt past maxDurationSeconds and finishes it timed_out', async () => {
    const msg = dispatch(['sleep', '30'], { maxDurationSeconds: 1 });
    await sqs.send(msg);
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === msg.attemptId);
    expect(finish.body).toMatchObject({ outcome: 'timed_out', exitCode: 143, error: 'exceeded maxDurationSeconds (1 s)' });
  });

  it('stops an attempt the heartbeat answer cancels', async () => {
    const msg = dispatch(['sleep', '30']);
    cp.responders.set('heartbeat', (c) => ({
      status: 200,
      body: { nextHeartbeatSeconds: 1, stale: [], cancel: c.body.running.includes(msg.attemptId) ? [msg.attemptId] : [] },
    }));
    await sqs.send(msg);
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === msg.attemptId);
    expect(finish.body.outcome).toBe('cancelled');
    const beat = cp.of('heartbeat').find((c) => c.body.running.includes(msg.attemptId));
    expect(beat?.body).toMatchObject({ freeGpus: 1, telemetry: { agentRssMb: expect.any(Number) } });
  });

  it('kills an attempt whose logs answer 409 (fenced) and sends no finish', async () => {
    const msg = dispatch(['sh', '-c', 'echo hi; exec sleep 30']);
    cp.responders.set('logs', (c) => (c.body.attemptId === msg.attemptId ? { status: 409 } : { status: 200, body: {} }));
    await sqs.send(msg);
    await cp.waitFor('logs', (c) => c.body.attemptId === msg.attemptId);
    await until(() => agent.logs.some((l) => l.msg === 'attempt ended' && l.attemptId === msg.attemptId), 5_000, 'the attempt to end');
    expect(agent.logs.find((l) => l.msg === 'attempt ended' && l.attemptId === msg.attemptId)).toMatchObject({ reason: 'fenced' });
    expect(cp.of('finish', msg.attemptId)).toEqual([]);
  });

  it('finishes an attempt asking for more GPUs than are free as lost (re-placed elsewhere), without running it', async () => {
    const msg = dispatch(['sh', '-c', 'echo must-not-run'], { gpus: 3 });
    await sqs.send(msg);
    const finish = await cp.waitFor('finish', (c) => c.body.attemptId === msg.attemptId);
    expect(finish.body).toMatchObject({ outcome: 'lost', exitCode: null, error: 'node has 2 free GPUs, attempt needs 3', lines: [] });
  });

  it('opens a new session when a heartbeat answers 409', async () => {
    const sessions = cp.of('session').length;
    let rejected = false;
    cp.responders.set('heartbeat', () =>
      rejected ? { status: 200, body: { nextHeartbeatSeconds: 1, stale: [], cancel: [] } } : ((rejected = true), { status: 409 }),
    );
    await until(() => cp.of('session').length > sessions, 5_000, 'a new session');
    expect(cp.of('session').at(-1)?.key).toBe(NODE_KEY);
  });

  // issue 14 item 5: a written-off node is told to stop; its jobs already run elsewhere
  const endedAfter = (attemptId: string) => agent.logs.find((l) => l.msg === 'attempt ended' && l.attemptId === attemptId);
  it('kills the attempts a stop message names at once (no grace: the job runs elsewhere) and reports nothing for them', async () => {
    // ignores SIGTERM: only a kill without grace ends it before the 1 s stop grace
    const msg = dispatch(['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done']);
    const other = dispatch(['sh', '-c', 'echo other; exec sleep 30']);
    await sqs.send(msg);
    await sqs.send(other);
    await cp.waitFor('start', (c) => c.body.attemptId === other.attemptId);
    await until(() => agent.logs.some((l) => l.msg === 'attempt started' && l.attemptId === msg.attemptId), 5_000, 'the attempt to run');
    const sent = Date.now();
    await sqs.send({ type: 'stop', reason: 'NODE_DEREGISTERED', attemptIds: [msg.attemptId] });
    await until(() => endedAfter(msg.attemptId) !== undefined, 5_000, 'the attempt to end');
    expect(Date.now() - sent).toBeLessThan(1_000);
    expect(endedAfter(msg.attemptId)).toMatchObject({ reason: 'written_off', exitCode: 137 });
    expect(endedAfter(other.attemptId)).toBeUndefined(); // not named: left alone
    // a stop without names stops everything the node runs
    await sqs.send({ type: 'stop', reason: 'NODE_QUARANTINED' });
    await until(() => endedAfter(other.attemptId) !== undefined, 5_000, 'the other attempt to end');
    expect(endedAfter(other.attemptId)).toMatchObject({ reason: 'written_off' });
    await new Promise((r) => setTimeout(r, 300));
    expect(cp.of('finish', msg.attemptId)).toEqual([]);
    expect(cp.of('finish', other.attemptId)).toEqual([]);
  });

  it('kills the attempts a heartbeat reported when it answers 409 (node written off), then opens a new session', async () => {
    const msg = dispatch(['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done']);
    const sessions = cp.of('session').length;
    let refusedAt = 0;
    cp.responders.set('heartbeat', (c) => {
      if (refusedAt === 0 && c.body.running.includes(msg.attemptId)) return (refusedAt = Date.now()), { status: 409 };
      return { status: 200, body: { nextHeartbeatSeconds: 1, stale: [], cancel: [] } };
    });
    await sqs.send(msg);
    await until(() => endedAfter(msg.attemptId) !== undefined, 8_000, 'the attempt to end');
    expect(Date.now() - refusedAt).toBeLessThan(1_000);
    expect(endedAfter(msg.attemptId)).toMatchObject({ reason: 'written_off', exitCode: 137 });
    await until(() => cp.of('session').length > sessions, 5_000, 'a new session');
    expect(cp.of('finish', msg.attemptId)).toEqual([]);
  });

  it('retries finish until the control plane takes it', async () => {
    const msg = dispatch(['true']);
    let tries = 0;
    cp.responders.set('finish', (c) => (c.body.attemptId === msg.attemptId && ++tries < 3 ? { status: 500 } : { status: 200, body: {} }));
    await sqs.send(msg);
    await until(() => tries === 3, 10_000, 'the third finish');
    expect(cp.of('finish', msg.attemptId)).toHaveLength(3);
  });
});
