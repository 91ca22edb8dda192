// An attempt with secrets (agent/attempt.ts): every output line and the finish's error carry *** where a
// secret's value was, and the output digest replicated verification compares is taken over the masked
// lines (what the consumer sees); what the agent records about the attempt (its state) holds no value.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ControlPlane } from '../../agent/api';
import { AttemptRun } from '../../agent/attempt';
import { silentLogger } from '../../agent/log';
import { OutputDigest } from '../../agent/output-digest';
import type { Runtime, RuntimeAttempt } from '../../agent/runtime/types';
import type { StateStore } from '../../agent/state';
import { dispatch } from './helpers/agent';

const VALUE = 'sk-live-9f8e7d6c';
const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-mask-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an attempt with secrets', () => {
  it('masks lines, the error and the digest input; records nothing of the value', async () => {
    const sent: unknown[] = [];
    const finish = vi.fn(async (_jobId: string, body: unknown) => (sent.push(body), {}));
    const api = { finish, logs: vi.fn(async (_j: string, body: unknown) => (sent.push(body), {})) } as unknown as ControlPlane;
    let seen: RuntimeAttempt | undefined;
    const runtime = {
      kind: 'process',
      start: (a: RuntimeAttempt) => {
        seen = a;
        a.onLine('stdout', `token is ${VALUE}`);
        a.onLine('stderr', `${VALUE}${VALUE}`);
        a.onLine('stdout', 'plain');
        const r = { exitCode: 1, signal: null, error: `crashed with ${VALUE}` };
        return { ref: { pid: 1 }, wait: () => Promise.resolve(r), stop: () => Promise.resolve(r) };
      },
      killLeftover: async () => {},
    } as unknown as Runtime;
    const recorded: unknown[] = [];
    const state = { dir, put: async (r: unknown) => void recorded.push(r), remove: async () => {} } as unknown as StateStore;
    const run = new AttemptRun(dispatch(['true']), [], { api, runtime, state, log: silentLogger, stopGraceMs: 1000, logMaxLines: 100, exitSignal: new AbortController().signal }, undefined, {
      secrets: { env: { TOKEN: VALUE } },
    });
    await run.run();
    // the runtime got the value (it must put it in the job's environment)
    expect(seen?.start?.secrets?.env.TOKEN).toBe(VALUE);
    const text = JSON.stringify(sent);
    expect(text).not.toContain(VALUE);
    expect(text).toContain('token is ***');
    expect(text).toContain('******');
    const body = finish.mock.calls[0][1] as { error: string; outputDigest: string };
    expect(body.error).toBe('crashed with ***');
    const d = new OutputDigest();
    d.push('stdout', 'token is ***');
    d.push('stdout', 'plain');
    expect(body.outputDigest).toBe(d.value());
    expect(JSON.stringify(recorded)).not.toContain(VALUE);
  });
});
