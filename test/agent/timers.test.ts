// Heartbeat pacing and session renewal, on fake timers with a stub control plane.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type ControlPlane } from '../../agent/api';
import { Heartbeat } from '../../agent/heartbeat';
import { silentLogger } from '../../agent/log';
import { Session } from '../../agent/session';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function heartbeatWith(answer: () => Promise<{ nextHeartbeatSeconds: number; stale: string[]; cancel: string[] }>) {
  const running: string[] = [];
  const api = { heartbeat: vi.fn(answer) } as unknown as ControlPlane;
  const onStale = vi.fn();
  const onCancel = vi.fn();
  const hb = new Heartbeat({
    api, log: silentLogger, running: () => running, freeGpus: () => 2 - running.length,
    periods: () => ({ busySeconds: 10, idleSeconds: 60 }), onStale, onCancel,
  });
  return { hb, api: api.heartbeat as ReturnType<typeof vi.fn>, running, onStale, onCancel };
}

const answer = (nextHeartbeatSeconds: number, extra = {}) => async () => ({ nextHeartbeatSeconds, stale: [], cancel: [], ...extra });

describe('Heartbeat', () => {
  it('beats every idle period when idle and every busy period when busy', async () => {
    const t = heartbeatWith(answer(0));
    t.hb.start();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(t.api).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(t.api).toHaveBeenLastCalledWith({ running: [], freeGpus: 2, telemetry: { agentRssMb: expect.any(Number) } });
    t.running.push('att1');
    t.hb.reschedule();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.api).toHaveBeenCalledTimes(2);
    expect(t.api.mock.calls[1][0]).toMatchObject({ running: ['att1'], freeGpus: 1 });
    t.hb.stop();
  });

  it('follows nextHeartbeatSeconds while the node stays busy or idle as it was', async () => {
    const t = heartbeatWith(answer(300));
    t.hb.start();
    await vi.advanceTimersByTimeAsync(60_000);
    await vi.advanceTimersByTimeAsync(299_000);
    expect(t.api).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.api).toHaveBeenCalledTimes(2);
    t.running.push('att1'); // busy now: the idle answer no longer applies
    t.hb.reschedule();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.api).toHaveBeenCalledTimes(3);
    t.hb.stop();
  });

  it('hands stale and cancel lists to the agent, and says draining once told to', async () => {
    const t = heartbeatWith(answer(60, { stale: ['a'], cancel: ['b'] }));
    await t.hb.drain();
    expect(t.api.mock.calls[0][0]).toMatchObject({ draining: true });
    expect(t.onStale).toHaveBeenCalledWith(['a']);
    expect(t.onCancel).toHaveBeenCalledWith(['b']);
    t.hb.stop();
  });

  it('opens a new session when the control plane answers 409 (node written off)', async () => {
    const onRejected = vi.fn(async () => undefined);
    const api = { heartbeat: vi.fn(async () => Promise.reject(new ApiError(409, 'node is OFFLINE; open a new session'))) } as unknown as ControlPlane;
    const hb = new Heartbeat({
      api, log: silentLogger, running: () => [], freeGpus: () => 1, periods: () => ({ busySeconds: 10, idleSeconds: 60 }),
      onStale: vi.fn(), onCancel: vi.fn(), onRejected,
    });
    await hb.beatNow();
    expect(onRejected).toHaveBeenCalledOnce();
    hb.stop();
  });

  it('retries a failed beat sooner than the idle period', async () => {
    let fail = true;
    const t = heartbeatWith(async () => {
      if (fail) throw new Error('down');
      return { nextHeartbeatSeconds: 60, stale: [], cancel: [] };
    });
    t.hb.start();
    await vi.advanceTimersByTimeAsync(60_000);
    fail = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.api).toHaveBeenCalledTimes(2);
    t.hb.stop();
  });
});

describe('Session', () => {
  const response = (expiresAt?: number) => ({
    nodeId: 'node-1', queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q', region: 'eu-west-1',
    heartbeat: { busySeconds: 10, idleSeconds: 60 }, stale: [],
    ...(expiresAt ? { credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'T', expiresAt } } : {}),
  });

  it('renews 5 minutes before the credentials expire, reporting what runs', async () => {
    const session = vi.fn(async () => response(Date.now() + 60 * 60_000));
    const s = new Session({ api: { session } as unknown as ControlPlane, log: silentLogger, running: () => ['att1'], onStale: vi.fn() });
    await s.open([]);
    await vi.advanceTimersByTimeAsync(55 * 60_000 - 1);
    expect(session).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(session).toHaveBeenCalledTimes(2);
    expect(session).toHaveBeenLastCalledWith({ running: ['att1'], agentVersion: expect.any(String), bootId: expect.any(String) });
    s.close();
  });

  it('shares one request between concurrent opens and passes stale attempts on', async () => {
    const session = vi.fn(async () => ({ ...response(), stale: ['old'] }));
    const onStale = vi.fn();
    const s = new Session({ api: { session } as unknown as ControlPlane, log: silentLogger, running: () => [], onStale });
    await Promise.all([s.open(), s.open()]);
    expect(session).toHaveBeenCalledTimes(1);
    expect(onStale).toHaveBeenCalledWith(['old']);
    expect(await s.sqs.config.region()).toBe('eu-west-1');
    s.close();
  });
});
