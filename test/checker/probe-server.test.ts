// The agent's probe server and the checker's probe, over real HTTP on loopback: signed both ways,
// stale, replayed, unsigned and foreign probes refused, and dishonest answers caught.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProbeServer } from '../../agent/probe/server';
import { loadOrCreateNodeKey } from '../../agent/probe/node-key';
import { createLogger } from '../../agent/log';
import { challengeAnswer, SignedProbeAnswerSchema } from '../../functions/domain/checker/probe';
import { keyPairFromSecret, parsePublicKey, publicKeyText, signPayload, verifyPayload } from '../../functions/domain/checker/signing';
import type { GpuDevice } from '../../functions/domain/model';
import { probeOnce } from '../../functions/usecases/checker';
import { httpProber } from '../../functions/usecases/checker-probe-client';
import type { Deps } from '../../functions/usecases/deps';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cp = keyPairFromSecret(randomBytes(32).toString('hex'));
const gpus: GpuDevice[] = [
  { index: 0, uuid: 'GPU-sim-0', model: 'A100', vramGb: 80 },
  { index: 1, uuid: 'GPU-sim-1', model: 'A100', vramGb: 80 },
];
const log = createLogger({ level: 'error', write: () => {} });
const dir = mkdtempSync(join(tmpdir(), 'gpupool-probe-'));
const servers: ProbeServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function agentProbe(name: string, dishonest?: 'gpus' | 'challenge' | 'canary') {
  const nodeKey = await loadOrCreateNodeKey(join(dir, name));
  const server = new ProbeServer({ nodeKey, inventory: async () => ({ devices: gpus, driverVersion: '550.54.15' }), log, dishonest });
  server.setNodeId(name);
  server.setControlPlaneKey(cp.publicKeyText);
  server.setLoad(() => ({ running: 1, freeGpus: 1 }));
  const port = await server.listen('127.0.0.1', 0);
  servers.push(server);
  return { server, nodeKey, url: `http://127.0.0.1:${port}/probe`, node: { id: name, probeUrl: `http://127.0.0.1:${port}/probe`, publicKey: nodeKey.publicKey, gpus } };
}

const ctx = { d: { settings: { checker: { probeTimeoutMs: 1000 } } } as unknown as Deps, key: cp, prober: httpProber({ allow: ['loopback'] }) };
const signed = (p: { nodeId: string; nonce: string; issuedAt: number }, key = cp.privateKey) => ({ probe: p, signature: signPayload(key, 'probe', p) });
const nonce = () => randomBytes(16).toString('base64url');
const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));

describe('an honest agent', () => {
  it('answers a signed probe with its inventory, load and challenge, signed with its own key', async () => {
    const a = await agentProbe('honest-1');
    const p = { nodeId: 'honest-1', nonce: nonce(), issuedAt: Date.now() };
    const r = await post(a.url, signed(p));
    expect(r.status).toBe(200);
    const { answer, signature } = SignedProbeAnswerSchema.parse(r.body);
    expect(verifyPayload(parsePublicKey(a.nodeKey.publicKey)!, 'answer', answer, signature)).toBe(true);
    expect(answer).toMatchObject({ nodeId: 'honest-1', nonce: p.nonce, gpus, driverVersion: '550.54.15', load: { running: 1, freeGpus: 1 } });
    expect(answer.challenge).toBe(challengeAnswer(p.nonce, ['GPU-sim-0', 'GPU-sim-1']));
  });

  it('passes the checker’s probe end to end', async () => {
    const a = await agentProbe('honest-2');
    const { verdict, rttMs } = await probeOnce(ctx, a.node, Date.now());
    expect(verdict).toMatchObject({ ok: true, specMatch: true, challengeOk: true, proof: false });
    expect(rttMs).toBeLessThan(1000);
  });

  it('keeps its key in the state dir, mode 600, across restarts', async () => {
    const first = await loadOrCreateNodeKey(join(dir, 'keep'));
    const again = await loadOrCreateNodeKey(join(dir, 'keep'));
    expect(again.publicKey).toBe(first.publicKey);
    expect(statSync(join(dir, 'keep', 'node-key.pem')).mode & 0o777).toBe(0o600);
  });
});

describe('the probe server refuses', () => {
  let a: Awaited<ReturnType<typeof agentProbe>>;
  beforeAll(async () => {
    a = await agentProbe('strict');
  });
  const fresh = () => ({ nodeId: 'strict', nonce: nonce(), issuedAt: Date.now() });

  it('a replayed probe (the same nonce twice)', async () => {
    const body = signed(fresh());
    expect((await post(a.url, body)).status).toBe(200);
    expect(await post(a.url, body)).toEqual({ status: 409, body: { error: 'replayed' } });
  });

  it.each([
    ['an unsigned probe', () => ({ probe: fresh() }), 401, 'unsigned'],
    ['a probe signed by another key', () => signed(fresh(), generateKeyPairSync('ed25519').privateKey), 401, 'bad_signature'],
    ['a signature over other content', () => ({ ...signed(fresh()), probe: fresh() }), 401, 'bad_signature'],
    ['a probe 61 s old', () => signed({ ...fresh(), issuedAt: Date.now() - 61_000 }), 403, 'stale'],
    ['a probe 61 s ahead', () => signed({ ...fresh(), issuedAt: Date.now() + 61_000 }), 403, 'stale'],
    ['a probe for another node', () => signed({ ...fresh(), nodeId: 'other' }), 403, 'wrong_node'],
    ['a malformed body', () => ({ hello: 'world' }), 400, 'malformed'],
  ])('%s', async (_what, body, status, error) => {
    expect(await post(a.url, body())).toEqual({ status, body: { error } });
  });

  it('anything but POST /probe', async () => {
    expect((await fetch(a.url.replace('/probe', '/'))).status).toBe(404);
    expect((await fetch(a.url)).status).toBe(404);
  });

  it('every probe before the session gave it the control plane’s key', async () => {
    const b = await agentProbe('early');
    b.server.setControlPlaneKey(undefined);
    expect(await post(b.url, signed({ nodeId: 'early', nonce: nonce(), issuedAt: Date.now() }))).toEqual({ status: 503, body: { error: 'not_ready' } });
  });
});

describe('the checker', () => {
  it.each([
    ['gpus', { ok: false, specMatch: false, proof: true, reason: 'spec mismatch: reports 3 GPUs, registered 2' }],
    ['challenge', { ok: false, specMatch: true, challengeOk: false, proof: true, reason: 'wrong challenge answer' }],
    ['canary', { ok: true }], // lies only in job output: probes look honest
  ] as const)('catches a node dishonest about %s', async (mode, expected) => {
    const a = await agentProbe(`liar-${mode}`, mode);
    const { verdict } = await probeOnce(ctx, a.node, Date.now());
    expect(verdict).toMatchObject(expected);
  });

  it('does not take an answer signed by another key as proof of anything', async () => {
    const a = await agentProbe('impostor');
    const other = publicKeyText(generateKeyPairSync('ed25519').publicKey);
    const { verdict } = await probeOnce(ctx, { ...a.node, publicKey: other }, Date.now());
    expect(verdict).toMatchObject({ ok: false, proof: false, reason: 'bad answer signature' });
  });

  describe('against endpoints that misbehave', () => {
    let silent: Server;
    afterEach(() => silent?.closeAllConnections());
    afterAll(() => new Promise((r) => silent?.close(r)));

    it('gives up after its timeout', async () => {
      silent = createServer(() => {}); // never answers
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/probe`;
      const t0 = Date.now();
      const { verdict } = await probeOnce({ ...ctx, d: { settings: { checker: { probeTimeoutMs: 300 } } } as unknown as Deps }, { id: 'x', probeUrl: url, publicKey: 'k', gpus }, Date.now());
      expect(verdict).toMatchObject({ ok: false, proof: false, reason: 'timeout' });
      expect(Date.now() - t0).toBeLessThan(2000);
    });

    it('reports a refused connection and refuses loopback in cloud mode', async () => {
      const closed = { id: 'x', probeUrl: 'http://127.0.0.1:1/probe', publicKey: 'k', gpus };
      expect((await probeOnce(ctx, closed, Date.now())).verdict.reason).toBe('unreachable (ECONNREFUSED)');
      const cloud = { ...ctx, prober: httpProber({ allow: [] }) };
      expect((await probeOnce(cloud, closed, Date.now())).verdict.reason).toBe('loopback address refused');
    });
  });
});
