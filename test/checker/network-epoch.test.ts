// Closing the checker network's epochs on the local stack (DynamoDB Local, real HTTP, real agents), with
// 4-second epochs: four checkers report through the API — two honest, one that reports healthy nodes as
// failed, one that stops midway; a delegated license's rewards are split 80/20. Each epoch is closed by
// two runs at once. Honest nodes stay ONLINE; the liar earns nothing, loses standing and is suspended;
// the stopped checker earns only while it reported; the ledger pays every epoch once and its audit holds.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { epochEnd, graceMs, networkEpochOf } from '../../functions/domain/checker/network';
import { publicKeyText, signPayload } from '../../functions/domain/checker/signing';
import { SYSTEM_ACCOUNTS } from '../../functions/domain/ledger/model';
import type { Caller } from '../../functions/domain/model';
import { runNetworkEpochs, type EpochCloseResult } from '../../functions/usecases/checker-epoch';
import { network } from '../../functions/usecases/checker-network';
import { DEFAULT_GOVERNANCE } from '../../functions/usecases/governance-settings';
import { auditLedger, mint } from '../../functions/usecases/ledger';
import { startPool, type Pool } from '../helpers/local-pool';

// long enough for every checker's round to fit in one epoch on a loaded 2-core machine (the full suite beside
// other work: 4 s was overrun once)
const EPOCH_MS = 6_000;
const BUDGET = 1_000_000;
const LIAR_FUNDS = 10_000_000;
const ADMIN: Caller = { accountId: 'admin', role: 'admin', keyId: 'k' };
type Account = Awaited<ReturnType<Pool['newAccount']>>;
interface Checker {
  name: string;
  account: Account;
  licenseId: string;
  key: KeyObject;
  /** reports healthy nodes as failed */
  liar?: boolean;
  /** stops reporting from this round on */
  stopsAt?: number;
}
interface Assignment {
  licenseId: string;
  nodeId: string;
  probeUrl: string;
  probe: { probe: { issuedAt: number } };
}

let pool: Pool;
let nodes: string[];
let owner: Account;
let operator: Account;
const checkers: Checker[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One checker's round: read assignments, probe each node, sign and submit a report. */
async function round(c: Checker): Promise<number> {
  const a = (await c.account.api.get('/v1/checkers/assignments')).body as { epoch: number; items: Assignment[] };
  let sent = 0;
  for (const i of a.items) {
    const r = await fetch(i.probeUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(i.probe) });
    const answer = await r.json();
    const report = c.liar
      ? { epoch: a.epoch, licenseId: i.licenseId, nodeId: i.nodeId, ok: false, reason: 'timeout', issuedAt: i.probe.probe.issuedAt }
      : { epoch: a.epoch, licenseId: i.licenseId, nodeId: i.nodeId, ok: r.status === 200, rttMs: 2, issuedAt: i.probe.probe.issuedAt, ...(r.status === 200 ? { answer } : {}) };
    const res = await c.account.api.post('/v1/checkers/reports', { report, signature: signPayload(c.key, 'report', report) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    sent++;
  }
  return sent;
}

async function newChecker(name: string, holder: Account, runner: Account, extra: Partial<Checker> = {}): Promise<Checker> {
  const lic = await pool.admin.post('/v1/licenses', { account: holder.id, count: 1 });
  const licenseId = lic.body.items[0].id as string;
  if (runner !== holder) expect((await holder.api.post(`/v1/licenses/${licenseId}/delegate`, { operator: runner.id, rewardShareBps: 2_000 })).status).toBe(200);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  expect((await runner.api.post('/v1/checkers', { licenseId, publicKey: publicKeyText(publicKey) })).status).toBe(201);
  const c = { name, account: runner, licenseId, key: privateKey, ...extra };
  checkers.push(c);
  return c;
}

const balanceOf = async (a: Account) => (await a.api.get('/v1/balance')).body.available as number;

beforeAll(async () => {
  // the network's epochs are closed by the test (two closes at once), not by the stack's governance timer
  pool = await startPool({ checkerMs: 1_000, governanceMs: 3_600_000, checker: { networkEpochMs: EPOCH_MS, networkRewardPerEpoch: BUDGET }, settings: { governance: { ...DEFAULT_GOVERNANCE, licenseSupply: 20 } } });
  const [p1, p2] = await Promise.all([pool.newAccount('provider', 'p1'), pool.newAccount('provider', 'p2')]);
  nodes = (await Promise.all([pool.addAgent({ name: 'ep-n1', gpus: '1xL4-24', providerKey: p1.key }), pool.addAgent({ name: 'ep-n2', gpus: '1xL4-24', providerKey: p2.key })])).map((a) => a.nodeId);
  const acct = (n: string) => pool.newAccount('consumer', n, false);
  const [h1, h2, liar] = await Promise.all([acct('honest 1'), acct('honest 2'), acct('liar')]);
  [owner, operator] = await Promise.all([acct('license owner'), acct('node-as-a-service')]);
  await newChecker('honest 1', h1, h1);
  await newChecker('stops', h2, h2, { stopsAt: 2 });
  await newChecker('liar', liar, liar, { liar: true });
  await newChecker('delegated', owner, operator);
  await mint(pool.stack.deps, ADMIN, SYSTEM_ACCOUNTS.rewards, 100 * BUDGET, 'checker network test pool');
  // the liar's holder has credits: its penalties are charged from them
  await mint(pool.stack.deps, ADMIN, liar.id, LIAR_FUNDS, 'liar funds');
}, 90_000);
afterAll(async () => pool?.stop());

describe('epoch close', () => {
  const closes: EpochCloseResult[][] = [];
  const epochs: number[] = [];

  it('runs epochs until the liar is suspended: quorum keeps honest nodes ONLINE, each epoch closes once under racing runs', async () => {
    const d = pool.stack.deps;
    const liar = checkers.find((c) => c.liar)!;
    for (let r = 0; r < 9; r++) {
      // start each round just after an epoch begins
      const now = Date.now();
      await sleep(epochEnd(networkEpochOf(now, EPOCH_MS), EPOCH_MS) - now + 150);
      const e = networkEpochOf(Date.now(), EPOCH_MS);
      epochs.push(e);
      await Promise.all(checkers.filter((c) => c.stopsAt === undefined || r < c.stopsAt).map(round));
      expect(networkEpochOf(Date.now(), EPOCH_MS), 'the round ended inside its epoch').toBe(e);
      await sleep(epochEnd(e, EPOCH_MS) + graceMs(EPOCH_MS) - Date.now() + 50);
      // two closes at once: the epoch is closed, scored and paid once
      const both = await Promise.all([runNetworkEpochs(d), runNetworkEpochs(d)]);
      closes.push(both.flat().filter((x) => x.epoch === e));
      const lic = (await liar.account.api.get(`/v1/licenses/${liar.licenseId}`)).body.license;
      if (lic.status === 'suspended') break;
    }
    for (const [i, e] of epochs.entries()) {
      const runs = closes[i];
      expect(runs.length, `epoch ${e} closed by both runs`).toBeGreaterThanOrEqual(1);
      // no node is failed by a quorum: the liar is one of three
      expect(runs.reduce((s, x) => s + x.failedByQuorum, 0)).toBe(0);
      // the quorum's reputation nudge happened at most once per node
      expect(runs.reduce((s, x) => s + x.byQuorum, 0)).toBeLessThanOrEqual(nodes.length);
      const paid = runs.reduce((s, x) => s + x.paid, 0);
      const scores = await network(d).scores(e);
      expect(paid).toBe(scores.filter((s) => s.posted).reduce((a, s) => a + s.reward, 0));
    }
    for (const n of nodes) expect((await d.nodes.get(n))!.status).toBe('ONLINE');
    const lic = (await liar.account.api.get(`/v1/licenses/${liar.licenseId}`)).body;
    expect(lic.license.status).toBe('suspended');
    expect(lic.history.at(-1)).toMatchObject({ change: 'suspend', by: 'checker-network' });
  }, 120_000);

  it('pays by agreeing reports: the liar nothing, the stopped checker only while it ran, the delegation split 80/20', async () => {
    const d = pool.stack.deps;
    const byLicense = new Map<string, number>();
    for (const e of epochs) for (const s of await network(d).scores(e)) if (s.posted) byLicense.set(s.licenseId, (byLicense.get(s.licenseId) ?? 0) + s.reward);
    const [honest, stops, liar, delegated] = checkers;
    expect(byLicense.get(liar.licenseId) ?? 0).toBe(0);
    // each of its disagreeing reports cost its holder the penalty (10,000 micro-credits), charged once per epoch
    const liarScores = (await Promise.all(epochs.map((e) => network(d).scores(e)))).flat().filter((s) => s.licenseId === liar.licenseId);
    const charged = liarScores.filter((s) => s.posted).reduce((a, s) => a - s.net, 0);
    expect(charged).toBe(liarScores.reduce((a, s) => a + s.disagreed * 10_000, 0));
    expect(charged).toBeGreaterThan(0);
    expect(await balanceOf(liar.account)).toBe(LIAR_FUNDS - charged);
    expect(byLicense.get(honest.licenseId)).toBeGreaterThan(0);
    expect(await balanceOf(honest.account)).toBe(byLicense.get(honest.licenseId));
    // the stopped checker earned in its first two epochs only
    const stopsLater = (await Promise.all(epochs.slice(2).map((e) => network(d).scores(e)))).flat().filter((s) => s.licenseId === stops.licenseId);
    expect(stopsLater.every((s) => s.reward === 0 && s.agreed === 0)).toBe(true);
    expect(await balanceOf(stops.account)).toBe(byLicense.get(stops.licenseId) ?? 0);
    // the delegated license: per epoch the operator gets floor(20%), the owner the rest
    let toOperator = 0;
    for (const e of epochs) for (const s of await network(d).scores(e)) if (s.posted && s.licenseId === delegated.licenseId) toOperator += Math.floor((s.reward * 2_000) / 10_000);
    expect(toOperator).toBeGreaterThan(0);
    expect(await balanceOf(operator)).toBe(toOperator);
    expect(await balanceOf(owner)).toBe(byLicense.get(delegated.licenseId)! - toOperator);
    // standings: the liar's fell below the honest ones'
    const regs = new Map((await network(d).registrations()).map((r) => [r.licenseId, r]));
    expect(regs.get(liar.licenseId)!.standing).toBeLessThan(regs.get(honest.licenseId)!.standing);
    expect(regs.get(stops.licenseId)!.standing).toBeLessThan(regs.get(honest.licenseId)!.standing);
    expect((await auditLedger(d)).ok).toBe(true);
  });

  it('a suspended checker gets no assignments and cannot register again', async () => {
    const liar = checkers.find((c) => c.liar)!;
    const now = Date.now();
    await sleep(epochEnd(networkEpochOf(now, EPOCH_MS), EPOCH_MS) - now + 100);
    expect((await liar.account.api.get('/v1/checkers/assignments')).body.items).toEqual([]);
    const { publicKey } = generateKeyPairSync('ed25519');
    expect((await liar.account.api.post('/v1/checkers', { licenseId: liar.licenseId, publicKey: publicKeyText(publicKey) })).status).toBe(409);
  });
});
