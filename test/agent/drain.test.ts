// SIGTERM drain, with the agent as a real child process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnAgent, type AgentProcess } from './helpers/child';
import { FakeControlPlane, sessionOn } from './helpers/fake-control-plane';
import { agentEnv, dispatch } from './helpers/agent';
import { startSqs, type LocalSqs } from './helpers/sqs';

let sqs: LocalSqs;
let cp: FakeControlPlane;
let agent: AgentProcess | undefined;
const stateDir = mkdtempSync(join(tmpdir(), 'gpupool-drain-'));

beforeAll(async () => {
  sqs = await startSqs('node-drain', 30);
  cp = new FakeControlPlane(() => sessionOn(sqs));
  await cp.start();
});

afterAll(async () => {
  if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
  await cp?.close();
  await sqs?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('SIGTERM drain (real agent process)', () => {
  it('stops polling, heartbeats draining, lets short work finish, stops the rest at the deadline, exits 0', async () => {
    agent = spawnAgent(agentEnv(cp.url, stateDir, { GPUPOOL_DRAIN_SECONDS: '2', GPUPOOL_STOP_GRACE_SECONDS: '1' }));
    await agent.waitForStdout(/session open/);
    const short = dispatch(['sh', '-c', 'echo short-started; sleep 1; echo short-done']);
    const long = dispatch(['sh', '-c', 'echo long-started; exec sleep 30']);
    await sqs.send(short);
    await sqs.send(long);
    await cp.waitFor('start', (c) => c.body.attemptId === long.attemptId);
    await cp.waitFor('start', (c) => c.body.attemptId === short.attemptId);

    const t0 = Date.now();
    agent.child.kill('SIGTERM');
    const beat = await cp.waitFor('heartbeat', (c) => c.body.draining === true);
    expect(beat.body.running.sort()).toEqual([long.attemptId, short.attemptId].sort());
    // Polling has stopped: new work stays on the queue for another node.
    const late = dispatch(['sh', '-c', 'echo must-not-run']);
    await sqs.send(late);

    const shortFinish = await cp.waitFor('finish', (c) => c.body.attemptId === short.attemptId);
    expect(shortFinish.body).toMatchObject({ outcome: 'exited', exitCode: 0 });
    const shortLines = [...cp.of('logs', short.attemptId).flatMap((c) => c.body.lines), ...shortFinish.body.lines];
    expect(shortLines.map((l: any) => l.text)).toEqual(['short-started', 'short-done']);
    const longFinish = await cp.waitFor('finish', (c) => c.body.attemptId === long.attemptId);
    expect(longFinish.body).toMatchObject({ outcome: 'cancelled', error: 'agent drained', exitCode: 143 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);

    expect(await agent.exited).toBe(0);
    expect(cp.of('start', late.attemptId)).toEqual([]);
    // Still on the queue for another node. (≥ 1: local-aws-sqs may hand a message to the long poll the agent
    // aborted, and then count it both in flight and visible; the agent never received it, as start shows.)
    expect(await sqs.depth()).toBeGreaterThanOrEqual(1);
    // stderr is one JSON object per line
    for (const line of agent.stderr().trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });
});
