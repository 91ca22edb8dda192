// The whole agent in process against a fake control plane: it registers its probe URL and public key,
// learns the control plane's key from the session, answers the checker's probe, and closes the probe
// server when it stops. Plus the dishonest `canary` runtime wrapper.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dishonestRuntime } from '../../agent/probe/dishonest';
import { advertisedProbeUrl, probeBinding } from '../../agent/probe/index';
import type { Runtime, RuntimeAttempt } from '../../agent/runtime/types';
import { keyPairFromSecret } from '../../functions/domain/checker/signing';
import { probeOnce } from '../../functions/usecases/checker';
import { httpProber } from '../../functions/usecases/checker-probe-client';
import type { Deps } from '../../functions/usecases/deps';
import { startAgent, type RunningAgent } from '../agent/helpers/agent';
import { FakeControlPlane } from '../agent/helpers/fake-control-plane';
import { startSqs, type LocalSqs } from '../agent/helpers/sqs';

const cpKey = keyPairFromSecret(randomBytes(32).toString('hex'));
let sqs: LocalSqs;
let cp: FakeControlPlane;
let agent: RunningAgent;

beforeAll(async () => {
  sqs = await startSqs();
  cp = new FakeControlPlane(() => ({
    nodeId: 'node-1',
    queueUrl: sqs.queueUrl,
    sqsEndpoint: sqs.endpoint,
    region: 'us-east-1',
    heartbeat: { busySeconds: 30, idleSeconds: 30 },
    stale: [],
    controlPlanePublicKey: cpKey.publicKeyText,
  }));
  await cp.start();
  agent = startAgent(cp.url);
  await agent.ready();
});

afterAll(async () => {
  const url = cp?.of('register')[0]?.body.probeUrl;
  expect(await agent?.stop()).toBe(0);
  // the probe server went with the agent
  if (url) await expect(fetch(url, { method: 'POST', body: '{}' })).rejects.toThrow();
  await cp?.close();
  await sqs?.close();
});

describe('the agent’s probe server', () => {
  it('is registered with the node, with the node’s public key, and named again in each session', () => {
    const [register] = cp.of('register');
    expect(register.body.probeUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/probe$/);
    expect(register.body.publicKey).toMatch(/^[A-Za-z0-9+/=]{40,}$/);
    expect(cp.of('session')[0].body).toMatchObject({ probeUrl: register.body.probeUrl, publicKey: register.body.publicKey });
    expect(statSync(join(agent.stateDir, 'node-key.pem')).mode & 0o777).toBe(0o600);
  });

  it('answers the checker’s signed probe with the registered GPUs', async () => {
    const { body } = cp.of('register')[0];
    const ctx = { d: { settings: { checker: { probeTimeoutMs: 2000 } } } as unknown as Deps, key: cpKey, prober: httpProber({ allow: ['loopback'] }) };
    const { verdict } = await probeOnce(ctx, { id: 'node-1', probeUrl: body.probeUrl, publicKey: body.publicKey, gpus: body.gpus }, Date.now());
    expect(verdict).toMatchObject({ ok: true, specMatch: true, challengeOk: true });
  });

  it('refuses probes signed by anyone but the control plane of its session', async () => {
    const { body } = cp.of('register')[0];
    const other = keyPairFromSecret(randomBytes(32).toString('hex'));
    const ctx = { d: { settings: { checker: { probeTimeoutMs: 2000 } } } as unknown as Deps, key: other, prober: httpProber({ allow: ['loopback'] }) };
    const { verdict } = await probeOnce(ctx, { id: 'node-1', probeUrl: body.probeUrl, publicKey: body.publicKey, gpus: body.gpus }, Date.now());
    expect(verdict).toMatchObject({ ok: false, proof: false, reason: 'probe refused: HTTP 401 bad_signature' });
  });
});

describe('where the probe server listens', () => {
  const base = { stateDir: '/x', nodeName: 'n' };
  it.each([
    [{ apiUrl: 'http://127.0.0.1:8787' }, { host: '127.0.0.1', port: 0 }],
    [{ apiUrl: 'https://api.example.com' }, { host: '0.0.0.0', port: 8790 }],
    [{ apiUrl: 'https://api.example.com', probeHost: '10.0.0.5', probePort: 9000 }, { host: '10.0.0.5', port: 9000 }],
  ])('%o → %o', (c, binding) => expect(probeBinding({ ...base, ...c })).toEqual(binding));

  it('advertises GPUPOOL_PROBE_URL when set, else the bound address', () => {
    expect(advertisedProbeUrl({ ...base, apiUrl: 'https://a', probeUrl: 'https://gpu7.example.com:443/probe' }, '0.0.0.0', 8790)).toBe('https://gpu7.example.com:443/probe');
    expect(advertisedProbeUrl({ ...base, apiUrl: 'http://127.0.0.1:1' }, '127.0.0.1', 4321)).toBe('http://127.0.0.1:4321/probe');
    expect(advertisedProbeUrl({ ...base, apiUrl: 'https://a' }, '::1', 4321)).toBe('http://[::1]:4321/probe');
  });
});

describe('the dishonest canary switch', () => {
  it('prints integer lines off by one and leaves everything else alone', () => {
    const seen: [string, string][] = [];
    const inner: Runtime = {
      kind: 'process',
      killLeftover: async () => {},
      start: (a: RuntimeAttempt) => {
        for (const t of ['2070736', 'hello 42', '-5', '9007199254740993']) a.onLine('stdout', t);
        a.onLine('stderr', '7');
        return { ref: {}, wait: async () => ({ exitCode: 0, signal: null }), stop: async () => ({ exitCode: 0, signal: null }) };
      },
    };
    const attempt = { jobId: 'j', attemptId: 'a', spec: { command: [], env: {}, gpus: 1, maxDurationSeconds: 1 }, devices: [], onLine: (s: string, t: string) => seen.push([s, t]) } as RuntimeAttempt;
    dishonestRuntime(inner, 'canary').start(attempt);
    expect(seen).toEqual([['stdout', '2070737'], ['stdout', 'hello 42'], ['stdout', '-4'], ['stdout', '9007199254740994'], ['stderr', '7']]);
    expect(dishonestRuntime(inner, 'gpus')).toBe(inner);
  });
});
