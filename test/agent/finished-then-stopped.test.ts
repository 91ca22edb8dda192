// Issue 14.5's second double run, found by test/e2e/double-run-stress.test.ts: a job's process exited 0
// on its own, and a moment later (the agent still recording the attempt on a loaded machine) its lease ran
// out. The stop set the attempt's end reason anyway, so the finish said `lost`, the control plane placed the
// job again and it ran a second time though its first run had completed. A stop that comes after the
// workload ended changes nothing: the attempt is reported as it ended.
import { describe, expect, it, vi } from 'vitest';
import type { ControlPlane } from '../../agent/api';
import { AttemptRun } from '../../agent/attempt';
import { silentLogger } from '../../agent/log';
import type { Runtime, RuntimeHandle } from '../../agent/runtime/types';
import type { StateStore } from '../../agent/state';
import { dispatch } from './helpers/agent';

function setup() {
  const finish = vi.fn(async (_jobId: string, _body: unknown) => ({}));
  const api = { finish, logs: vi.fn(async () => ({})) } as unknown as ControlPlane;
  const stop = vi.fn(async () => ({ exitCode: 0, signal: null }));
  const handle: RuntimeHandle = { ref: { pid: 12345 }, wait: () => Promise.resolve({ exitCode: 0, signal: null }), stop };
  const runtime = { kind: 'process', start: () => handle, killLeftover: async () => {} } as unknown as Runtime;
  // recording the attempt is slow (a loaded disk): the stop arrives meanwhile
  let recorded!: () => void;
  let putCalled!: () => void;
  const recording = new Promise<void>((r) => (putCalled = r));
  const state = {
    put: () => {
      putCalled();
      return new Promise<void>((r) => (recorded = r));
    },
    remove: async () => {},
  } as unknown as StateStore;
  const run = new AttemptRun(dispatch(['true']), [], { api, runtime, state, log: silentLogger, stopGraceMs: 1000, logMaxLines: 100, exitSignal: new AbortController().signal });
  return { run, finish, stop, recording, recorded: () => recorded() };
}

describe('an attempt whose workload already ended', () => {
  it('is reported as it ended when a stop (lost lease) comes after the exit', async () => {
    const t = setup();
    const done = t.run.run();
    // the workload has exited 0 (its wait() has resolved); the lease runs out while the attempt is being
    // recorded, before run() saw the exit (waited for, not timed: a loaded machine was slower than 10 ms)
    await t.recording;
    t.run.stop('lease_lost');
    t.recorded();
    await done;
    expect(t.finish).toHaveBeenCalledTimes(1);
    expect(t.finish.mock.calls[0][1]).toMatchObject({ outcome: 'exited', exitCode: 0 });
  });

  it('is reported exited when it exited 0 just before a lost lease killed it (the runtime had not said so yet)', async () => {
    const t = setup();
    // wait() resolves only after the stop, as the process runtime's does after draining output
    let exit!: () => void;
    const drained = new Promise<{ exitCode: number; signal: null }>((r) => (exit = () => r({ exitCode: 0, signal: null })));
    const run = new AttemptRun(dispatch(['true']), [], {
      api: { finish: t.finish, logs: vi.fn() } as unknown as ControlPlane,
      runtime: { kind: 'process', start: () => ({ ref: { pid: 1 }, wait: () => drained, stop: () => drained }) } as unknown as Runtime,
      state: { put: async () => {}, remove: async () => {} } as unknown as StateStore,
      log: silentLogger, stopGraceMs: 1000, logMaxLines: 100, exitSignal: new AbortController().signal,
    });
    const done = run.run();
    await new Promise((r) => setTimeout(r, 10));
    run.stop('lease_lost');
    exit();
    await done;
    expect(t.finish.mock.calls[0][1]).toMatchObject({ outcome: 'exited', exitCode: 0 });
  });

  it('a stop before the exit still ends it as stopped', async () => {
    const t = setup();
    // never exits on its own: only the stop ends it
    let exit!: (r: { exitCode: number | null; signal: NodeJS.Signals | null }) => void;
    const ended = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((r) => (exit = r));
    const handle: RuntimeHandle = { ref: { pid: 1 }, wait: () => ended, stop: async () => (exit({ exitCode: null, signal: 'SIGKILL' }), ended) };
    const run = new AttemptRun(dispatch(['sleep', '60']), [], {
      api: { finish: t.finish, logs: vi.fn() } as unknown as ControlPlane,
      runtime: { kind: 'process', start: () => handle } as unknown as Runtime,
      state: { put: async () => {}, remove: async () => {} } as unknown as StateStore,
      log: silentLogger, stopGraceMs: 1000, logMaxLines: 100, exitSignal: new AbortController().signal,
    });
    const done = run.run();
    await new Promise((r) => setTimeout(r, 10));
    run.stop('lease_lost');
    await done;
    expect(t.finish.mock.calls[0][1]).toMatchObject({ outcome: 'lost' });
  });
});
