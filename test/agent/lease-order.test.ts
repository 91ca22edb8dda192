// Issue 14.5's double run, found by test/e2e/double-run-stress.test.ts: a /start answer held up on a
// loaded machine arrived after a later heartbeat's answer and put back the older, shorter lease it
// carried. The agent then saw its lease run out, killed its running attempts (lease_lost) and the control
// plane placed those jobs again: each had already started, so each ran twice. An answer to a request
// sent before the one whose lease the agent holds tells it nothing new.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type ControlPlane } from '../../agent/api';
import { Heartbeat } from '../../agent/heartbeat';
import { silentLogger } from '../../agent/log';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function heartbeat() {
  const api = { heartbeat: vi.fn(async () => ({ nextHeartbeatSeconds: 0, stale: [], cancel: [] })) } as unknown as ControlPlane;
  const onLeaseLost = vi.fn();
  const hb = new Heartbeat({
    api, log: silentLogger, running: () => ['a1'], freeGpus: () => 0,
    periods: () => ({ busySeconds: 1, idleSeconds: 2 }), onStale: vi.fn(), onCancel: vi.fn(), onLeaseLost,
  });
  return { hb, onLeaseLost };
}

describe('lease order', () => {
  it('an answer to an older request (a slow /start) does not shorten the lease a newer heartbeat granted', async () => {
    const { hb, onLeaseLost } = heartbeat();
    const t0 = Date.now();
    hb.start();
    // the heartbeat sent at t0 + 500 grants 4 s; the start sent at t0, answered after it, carried 2 s
    hb.noteLease(t0 + 500, 4);
    hb.noteLease(t0, 2);
    await vi.advanceTimersByTimeAsync(2_500);
    expect(onLeaseLost).not.toHaveBeenCalled();
    // the newer lease still runs out when nothing renews it (4 s less half a busy period of margin)
    await vi.advanceTimersByTimeAsync(1_750);
    expect(onLeaseLost).toHaveBeenCalledTimes(1);
    hb.stop();
  });

  it('a newer request may shorten the lease (the start moved the node to the busy deadline)', async () => {
    const { hb, onLeaseLost } = heartbeat();
    const t0 = Date.now();
    hb.start();
    hb.noteLease(t0, 8);
    hb.noteLease(t0 + 100, 2);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(onLeaseLost).toHaveBeenCalledTimes(1);
    hb.stop();
  });
});

describe('lease renewal', () => {
  it('beats early when the lease would run out before the next beat is due (slow answers)', async () => {
    const api = { heartbeat: vi.fn(async () => ({ nextHeartbeatSeconds: 0, stale: [], cancel: [], leaseSeconds: 4 })) } as unknown as ControlPlane;
    const onLeaseLost = vi.fn();
    const hb = new Heartbeat({
      api, log: silentLogger, running: () => ['a1'], freeGpus: () => 0,
      // a busy period of 1 s but answers that set the next beat 10 s away (an override from the control plane)
      periods: () => ({ busySeconds: 1, idleSeconds: 2 }), onStale: vi.fn(), onCancel: vi.fn(), onLeaseLost,
    });
    (api.heartbeat as ReturnType<typeof vi.fn>).mockImplementation(async () => ({ nextHeartbeatSeconds: 10, stale: [], cancel: [], leaseSeconds: 4 }));
    hb.start();
    hb.noteLease(Date.now(), 4);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(onLeaseLost).not.toHaveBeenCalled();
    // renewed before each lease ran out: about every 2.5 s instead of every 10 s
    expect((api.heartbeat as ReturnType<typeof vi.fn>).mock.calls.length).toBeGreaterThanOrEqual(6);
    hb.stop();
  });
});

describe('throttled heartbeats', () => {
  it('retries a beat answered 429 every second, not on the backoff, so a co-keyed flood is out-asked (issue 14.9)', async () => {
    const api = { heartbeat: vi.fn(async () => { throw new ApiError(429, 'Too Many Requests'); }) } as unknown as ControlPlane;
    const hb = new Heartbeat({
      api, log: silentLogger, running: () => ['a1'], freeGpus: () => 0,
      periods: () => ({ busySeconds: 5, idleSeconds: 60 }), onStale: vi.fn(), onCancel: vi.fn(), onLeaseLost: vi.fn(),
    });
    hb.noteLease(Date.now(), 20);
    await hb.beatNow();
    await vi.advanceTimersByTimeAsync(15_000);
    // one beat a second (plus jitter) through the 15 s a busy lease leaves: the backoff (0.5, 1, 2, 5, then
    // each 5 s period) would have tried 6 times
    expect((api.heartbeat as ReturnType<typeof vi.fn>).mock.calls.length).toBeGreaterThanOrEqual(12);
    hb.stop();
  });

  it('keeps the backoff for other failures (a 503 is not retried every second)', async () => {
    const api = { heartbeat: vi.fn(async () => { throw new ApiError(503, 'unavailable'); }) } as unknown as ControlPlane;
    const hb = new Heartbeat({
      api, log: silentLogger, running: () => ['a1'], freeGpus: () => 0,
      periods: () => ({ busySeconds: 5, idleSeconds: 60 }), onStale: vi.fn(), onCancel: vi.fn(), onLeaseLost: vi.fn(),
    });
    hb.noteLease(Date.now(), 20);
    await hb.beatNow();
    await vi.advanceTimersByTimeAsync(15_000);
    expect((api.heartbeat as ReturnType<typeof vi.fn>).mock.calls.length).toBeLessThanOrEqual(8);
    hb.stop();
  });
});
