// The checker end to end on the local stack, with real agent processes: an honest agent earns reputation
// and stays ONLINE; agents that lie about their GPUs, the probe challenge or a canary's answer are
// QUARANTINED within two checker periods and get no more work; scores are visible through the API.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../lib/local/agent-process';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const PERIOD_MS = 1_500;
let pool: Pool;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
const sessionOpenedAt = new Map<string, number>();

interface Started {
  nodeId: string;
  name: string;
}

/** Starts an agent and resolves once its node is registered and its session is open. */
async function agent(name: string, gpus: string, dishonest?: 'gpus' | 'challenge' | 'canary'): Promise<Started> {
  const a = startAgent({
    name,
    gpus,
    apiUrl: pool.stack.apiUrl,
    providerKey: provider.key,
    stateDir: path.join(pool.dir, name),
    env: { GPUPOOL_DRAIN_SECONDS: '0', ...(dishonest ? { GPUPOOL_SIMULATED_DISHONEST: dishonest } : {}) },
    onLine: (l) => {
      pool.logs.push(l);
      if (l.includes('session open') && !sessionOpenedAt.has(name)) sessionOpenedAt.set(name, Date.now());
    },
  });
  pool.agents.push(a);
  await eventually(async () => (sessionOpenedAt.has(name) ? true : undefined), 30_000, `${name} session`);
  const nodes = (await provider.api.get('/v1/nodes?limit=100')).body.items as { id: string; name: string }[];
  return { nodeId: nodes.find((n) => n.name === name)!.id, name };
}

const nodeOf = async (id: string) => (await provider.api.get(`/v1/nodes/${id}`)).body.node;
const scoresOf = async (id: string) => (await provider.api.get(`/v1/nodes/${id}/scores`)).body;

async function quarantined(s: Started) {
  const node = await eventually(async () => {
    const n = await nodeOf(s.nodeId);
    return n.status === 'QUARANTINED' ? n : undefined;
  }, 20_000, `${s.name} quarantined`);
  // the slash is recorded right after the status changes (once the ledger has posted it)
  const scores = await eventually(async () => {
    const sc = await scoresOf(s.nodeId);
    return sc.rewards.some((r: { kind: string }) => r.kind === 'slash') ? sc : undefined;
  }, 10_000, `${s.name} slash recorded`);
  const slash = scores.rewards.find((r: { kind: string }) => r.kind === 'slash');
  const probes = scores.items.filter((i: { kind: string }) => i.kind === 'probe');
  return {
    node,
    scores,
    probes: probes.length,
    // from the checker's first look at the node (its first probe) to the quarantine
    afterFirstProbeMs: slash.at - probes[0].at,
    afterSessionMs: slash.at - sessionOpenedAt.get(s.name)!,
  };
}

beforeAll(async () => {
  // canaries on every run (rate 1), so the canary liar meets one at its first probe; short epochs
  pool = await startPool({ checkerMs: PERIOD_MS, checker: { canaryRate: 1, epochMs: 3_000, probeTimeoutMs: 1_000 } });
  provider = await pool.newAccount('provider', 'checked provider');
  consumer = await pool.newAccount('consumer');
  // the provider's stake is what a proof of dishonesty slashes
  expect((await pool.admin.post(`/v1/accounts/${provider.id}/credits`, { amount: 100_000_000 })).status).toBe(201);
  expect((await provider.api.post('/v1/stake', { amount: 100_000_000 })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await pool?.stop();
});

describe('the checker on the local stack', () => {
  let honest: Started;
  let liars: Record<'gpus' | 'challenge' | 'canary', Started>;

  beforeAll(async () => {
    honest = await agent('honest', '2xA100-80');
    const [g, c, k] = await Promise.all([
      agent('liar-gpus', '1xA100-80', 'gpus'),
      agent('liar-challenge', '1xH100-80', 'challenge'),
      agent('liar-canary', '1xL40S-48', 'canary'),
    ]);
    liars = { gpus: g, challenge: c, canary: k };
  }, 60_000);

  it.each([
    ['gpus', /checker: spec mismatch: reports 2 GPUs, registered 1/],
    ['challenge', /checker: wrong challenge answer/],
    ['canary', /checker: canary printed \d+, expected \d+ \(job \w+\)/],
  ] as const)('quarantines the agent that lies about %s within two checker periods', async (mode, reason) => {
    const q = await quarantined(liars[mode]);
    expect(q.node.statusReason).toMatch(reason);
    expect(q.node.reputation).toBe(0);
    console.log(`${mode} liar quarantined ${q.afterFirstProbeMs} ms after its first probe, ${q.afterSessionMs} ms after its session opened (period ${PERIOD_MS} ms)`);
    // the first run that sees it probes it (and sends the canary); the next one at the latest has the proof.
    // Counted in checker runs, not milliseconds: on a loaded 2-core machine a run can take longer than its period
    expect(q.probes).toBeGreaterThanOrEqual(1);
    expect(q.probes).toBeLessThanOrEqual(2);
    const bad = q.scores.items.filter((i: { ok: boolean }) => !i.ok);
    expect(bad.length).toBeGreaterThanOrEqual(1);
    if (mode !== 'canary') expect(bad[0]).toMatchObject({ kind: 'probe', specMatch: mode !== 'gpus', challengeOk: false });
    else expect(bad[0]).toMatchObject({ kind: 'canary', jobId: expect.any(String) });
    // the ledger slashed 10% of the provider's stake at once, to the treasury (a canary harms no consumer)
    expect(q.scores.rewards[0]).toMatchObject({ kind: 'slash', slashFraction: 0.1, posted: true, slashed: expect.any(Number), refunded: 0 });
    expect(q.scores.rewards[0].slashed).toBeGreaterThan(0);
    expect((await pool.admin.get('/v1/ledger/audit')).body).toMatchObject({ ok: true, differences: [] });
  }, 30_000);

  it('gives a quarantined node no more work', async () => {
    await quarantined(liars.canary);
    const r = await consumer.api.post('/v1/jobs', { command: ['echo', 'hi'], resources: { gpus: 1, gpuModels: ['L40S'] } });
    expect(r.body.job.status).toBe('QUEUED');
    expect(r.body.job.pendingReason).toMatch(/no nodes with free capacity/);
    const avail = await pool.stack.deps.nodes.available(undefined, 100);
    expect(avail.map((n) => n.id)).not.toContain(liars.canary.nodeId);
    await consumer.api.del(`/v1/jobs/${r.body.job.id}`);
  });

  it('keeps the honest agent ONLINE and raises its reputation; its scores are visible to its provider', async () => {
    const s = await eventually(async () => {
      const x = await scoresOf(honest.nodeId);
      const canaries = x.items.filter((i: { kind: string; ok: boolean }) => i.kind === 'canary' && i.ok);
      return x.reputation > 0.55 && canaries.length >= 1 && x.rewards.some((r: { kind: string }) => r.kind === 'epoch') ? x : undefined;
    }, 20_000, 'the honest node to earn reputation, pass a canary and close an epoch');
    expect(s.status).toBe('ONLINE');
    expect(s.items.every((i: { ok: boolean }) => i.ok)).toBe(true);
    expect(s.uptime).toMatchObject({ h1: 1, h24: 1, d7: 1 });
    expect(s.rttMs.p50).toBeGreaterThan(0);
    expect(s.rttMs.p95).toBeGreaterThanOrEqual(s.rttMs.p50);
    const epoch = s.rewards.find((r: { kind: string }) => r.kind === 'epoch');
    expect(epoch).toMatchObject({ idempotencyKey: `epoch/${epoch.epoch}/node/${honest.nodeId}/reward`, failedProbes: 0, posted: false });
    expect(epoch.reward).toBeGreaterThanOrEqual(0);
    expect(s.probe).toMatchObject({ consecutiveFailures: 0 });
    // `since` follows the series
    const later = (await provider.api.get(`/v1/nodes/${honest.nodeId}/scores?since=${s.items.at(-1).at}`)).body.items;
    expect(later.every((i: { at: number }) => i.at > s.items.at(-1).at)).toBe(true);
  }, 30_000);

  it('shows scores only to the node’s provider and admins, and lets only admins release', async () => {
    const other = await pool.newAccount('provider', 'someone else');
    expect((await other.api.get(`/v1/nodes/${honest.nodeId}/scores`)).status).toBe(404);
    expect((await consumer.api.get(`/v1/nodes/${honest.nodeId}/scores`)).status).toBe(403);
    expect((await pool.admin.get(`/v1/nodes/${honest.nodeId}/scores`)).status).toBe(200);
    expect((await pool.admin.get(`/v1/nodes/${honest.nodeId}/scores?since=abc`)).status).toBe(400);

    const target = liars.gpus;
    await quarantined(target);
    expect((await provider.api.post(`/v1/nodes/${target.nodeId}/release`)).status).toBe(403);
    const released = await pool.admin.post(`/v1/nodes/${target.nodeId}/release`);
    expect(released.status).toBe(200);
    expect(released.body.node).toMatchObject({ status: 'OFFLINE', statusReason: 'released by an admin' });
    // it still lies: back through a session, probed, quarantined again
    await eventually(async () => ((await nodeOf(target.nodeId)).status === 'QUARANTINED' ? true : undefined), 20_000, 'quarantined again');
  }, 40_000);
});
