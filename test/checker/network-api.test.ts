// The open checker network's API on the local stack (DynamoDB Local, real HTTP, real agent processes):
// registration by a license's holder or operator only, assignments that never give a checker its own
// provider's node, and the report rules — one per (epoch, node, checker) however many race, only for an
// assigned node in the current epoch, only with the registered key's signature, "ok" only with the node's
// signed answer to the probe this checker was handed.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicKeyText, signPayload } from '../../functions/domain/checker/signing';
import type { CheckerReport } from '../../functions/domain/checker/network';
import { periodOf, type License } from '../../functions/domain/governance/licenses';
import { network, rosterFor } from '../../functions/usecases/checker-network';
import { DEFAULT_GOVERNANCE } from '../../functions/usecases/governance-settings';
import { startPool, type Pool } from '../helpers/local-pool';

type Account = Awaited<ReturnType<Pool['newAccount']>>;
interface Checker {
  account: Account;
  licenseId: string;
  key: { privateKey: KeyObject; publicKey: KeyObject };
}
interface Assignment {
  licenseId: string;
  nodeId: string;
  probeUrl: string;
  probe: { probe: { nodeId: string; nonce: string; issuedAt: number }; signature: string };
}

let pool: Pool;
let p1: Account;
let p2: Account;
let n1: string;
let n2: string;
const checkers: Record<'a' | 'b' | 'own' | 'op', Checker> = {} as never;
let owner: Account;

const newKey = () => generateKeyPairSync('ed25519');

async function license(to: Account): Promise<string> {
  const r = await pool.admin.post('/v1/licenses', { account: to.id, count: 1 });
  expect(r.status).toBe(201);
  return r.body.items[0].id;
}

async function probe(a: Assignment) {
  const r = await fetch(a.probeUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(a.probe) });
  expect(r.status).toBe(200);
  return (await r.json()) as { answer: Record<string, unknown>; signature: string };
}

const signed = (c: Checker, report: CheckerReport, key = c.key.privateKey) => ({ report, signature: signPayload(key, 'report', report) });

async function assignments(c: Checker): Promise<{ epoch: number; items: Assignment[] }> {
  const r = await c.account.api.get('/v1/checkers/assignments');
  expect(r.status).toBe(200);
  return r.body;
}

beforeAll(async () => {
  // a day-long epoch: the whole file runs inside one (tests of epoch changes call the use cases with a clock)
  pool = await startPool({ checker: { networkEpochMs: 86_400_000 }, settings: { governance: { ...DEFAULT_GOVERNANCE, licenseSupply: 20 } } });
  p1 = await pool.newAccount('provider', 'p1');
  p2 = await pool.newAccount('provider', 'p2');
  [n1, n2] = (await Promise.all([pool.addAgent({ name: 'net-n1', gpus: '1xL4-24', providerKey: p1.key }), pool.addAgent({ name: 'net-n2', gpus: '1xL4-24', providerKey: p2.key })])).map((a) => a.nodeId);
  const a = await pool.newAccount('consumer', 'checker a');
  const b = await pool.newAccount('consumer', 'checker b');
  owner = await pool.newAccount('consumer', 'license owner');
  const operator = await pool.newAccount('consumer', 'node-as-a-service');
  checkers.a = { account: a, licenseId: await license(a), key: newKey() };
  checkers.b = { account: b, licenseId: await license(b), key: newKey() };
  // p1 runs a checker too: it must never be handed p1's own node
  checkers.own = { account: p1, licenseId: await license(p1), key: newKey() };
  const delegatedId = await license(owner);
  expect((await owner.api.post(`/v1/licenses/${delegatedId}/delegate`, { operator: operator.id, rewardShareBps: 2_000 })).status).toBe(200);
  checkers.op = { account: operator, licenseId: delegatedId, key: newKey() };
}, 90_000);
afterAll(async () => pool?.stop());

describe('registration', () => {
  it('attack: an account without the license, or with a bad key, registers nothing', async () => {
    const stranger = await pool.newAccount('consumer', 'no license');
    const key = publicKeyText(newKey().publicKey);
    expect((await stranger.api.post('/v1/checkers', { licenseId: checkers.a.licenseId, publicKey: key })).status).toBe(404);
    expect((await stranger.api.post('/v1/checkers', { licenseId: 'lic_nothing', publicKey: key })).status).toBe(404);
    expect((await checkers.a.account.api.post('/v1/checkers', { licenseId: checkers.a.licenseId, publicKey: 'not a key' })).status).toBe(400);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect((await checkers.a.account.api.post('/v1/checkers', { licenseId: checkers.a.licenseId, publicKey: rsa })).status).toBe(400);
    expect(await network(pool.stack.deps).registrations()).toEqual([]);
  });

  it('the holder, or the operator of a delegated license, registers its key', async () => {
    for (const c of Object.values(checkers)) {
      const r = await c.account.api.post('/v1/checkers', { licenseId: c.licenseId, publicKey: publicKeyText(c.key.publicKey) });
      expect(r.status).toBe(201);
      expect(r.body.checker).toMatchObject({ licenseId: c.licenseId, accountId: c.account.id, standing: 1, strikes: 0 });
    }
    const mine = (await checkers.op.account.api.get('/v1/checkers')).body.items;
    expect(mine.map((x: { licenseId: string }) => x.licenseId)).toEqual([checkers.op.licenseId]);
    expect((await pool.admin.get('/v1/checkers')).body.items).toHaveLength(4);
  });
});

describe('assignments and reports', () => {
  it('assigns each node k = 3 checkers, never p1\'s checker to p1\'s node; an unlicensed account gets none', async () => {
    const all = await Promise.all(Object.values(checkers).map(assignments));
    const byNode = new Map<string, string[]>();
    for (const x of all) for (const i of x.items) byNode.set(i.nodeId, [...(byNode.get(i.nodeId) ?? []), i.licenseId]);
    expect(byNode.get(n1)?.sort()).toEqual([checkers.a.licenseId, checkers.b.licenseId, checkers.op.licenseId].sort());
    expect(byNode.get(n2)).toHaveLength(3);
    expect((await assignments(checkers.own)).items.map((i) => i.nodeId)).not.toContain(n1);
    const stranger = await pool.newAccount('consumer', 'watcher');
    expect((await stranger.api.get('/v1/checkers/assignments')).body.items).toEqual([]);
  });

  it('freezes each epoch\'s roster with the governed checkerQuorum in force as k', async () => {
    const d = pool.stack.deps;
    // a later epoch (its clock), with a proposal's checkerQuorum = 2 enacted
    const later = { ...d, now: () => Date.now() + 3 * 86_400_000, parameters: { enacted: async () => ({ checkerQuorum: 2 }), invalidate: () => undefined } };
    const r = await rosterFor(later, Math.floor(later.now() / 86_400_000));
    expect(r.k).toBe(2);
    expect(r.checkers.map((c) => c.licenseId).sort()).toEqual(Object.values(checkers).map((c) => c.licenseId).sort());
  });

  it('takes one signed report with the node\'s answer; a replay of it is refused and stores nothing more', async () => {
    const c = checkers.a;
    const { epoch, items } = await assignments(c);
    const a = items.find((i) => i.nodeId === n1)!;
    const answer = await probe(a);
    const body = signed(c, { epoch, licenseId: c.licenseId, nodeId: n1, ok: true, rttMs: 3, issuedAt: a.probe.probe.issuedAt, answer: answer as never });
    const r = await c.account.api.post('/v1/checkers/reports', body);
    expect(r.status).toBe(201);
    expect(r.body.report).toMatchObject({ epoch, nodeId: n1, licenseId: c.licenseId, ok: true, late: false });
    const replay = await c.account.api.post('/v1/checkers/reports', body);
    expect(replay.status).toBe(409);
    const stored = (await network(pool.stack.deps).reports(epoch)).filter((x) => x.nodeId === n1 && x.licenseId === c.licenseId);
    expect(stored).toHaveLength(1);
  });

  it('attack: a report on a node not assigned to the checker is refused (its own provider\'s node)', async () => {
    const c = checkers.own;
    const { epoch } = await assignments(c);
    const r = await c.account.api.post('/v1/checkers/reports', signed(c, { epoch, licenseId: c.licenseId, nodeId: n1, ok: false, issuedAt: Date.now() }));
    expect(r.status).toBe(403);
    // nor may an account report for a license it does not run
    const r2 = await c.account.api.post('/v1/checkers/reports', signed(c, { epoch, licenseId: checkers.b.licenseId, nodeId: n1, ok: false, issuedAt: Date.now() }));
    expect(r2.status).toBe(403);
  });

  it('attack: a forged signature is refused and counted against the checker', async () => {
    const c = checkers.b;
    const { epoch, items } = await assignments(c);
    const a = items[0];
    const report: CheckerReport = { epoch, licenseId: c.licenseId, nodeId: a.nodeId, ok: false, reason: 'forged', issuedAt: a.probe.probe.issuedAt };
    const r = await c.account.api.post('/v1/checkers/reports', signed(c, report, newKey().privateKey));
    expect(r.status).toBe(403);
    expect(r.body.detail).toContain('signature');
    expect((await network(pool.stack.deps).badSignatures(epoch)).get(c.licenseId)).toBe(1);
    expect((await network(pool.stack.deps).reports(epoch)).some((x) => x.licenseId === c.licenseId && x.nodeId === a.nodeId)).toBe(false);
  });

  it('takes a report signed with a key the checker registered since the epoch began (re-keyed mid-epoch)', async () => {
    const c = checkers.b;
    const { epoch, items } = await assignments(c);
    const a = items.find((i) => i.nodeId === n2) ?? items[0];
    const rekeyed = newKey();
    expect((await c.account.api.post('/v1/checkers', { licenseId: c.licenseId, publicKey: publicKeyText(rekeyed.publicKey) })).status).toBe(201);
    const answer = await probe(a);
    const report: CheckerReport = { epoch, licenseId: c.licenseId, nodeId: a.nodeId, ok: true, issuedAt: a.probe.probe.issuedAt, answer: answer as never };
    expect((await c.account.api.post('/v1/checkers/reports', signed(c, report, rekeyed.privateKey))).status).toBe(201);
    // a key nobody registered is still a forgery
    expect((await network(pool.stack.deps).badSignatures(epoch)).get(c.licenseId)).toBe(1);
    c.key = rekeyed;
  });

  it('refuses a report for another epoch (409), and an "ok" without the node\'s answer to this checker\'s probe (400)', async () => {
    const c = checkers.op;
    const { epoch, items } = await assignments(c);
    const a = items[0];
    for (const e of [epoch + 1, epoch - 1]) {
      expect((await c.account.api.post('/v1/checkers/reports', signed(c, { epoch: e, licenseId: c.licenseId, nodeId: a.nodeId, ok: false, issuedAt: 0 }))).status).toBe(409);
    }
    expect((await c.account.api.post('/v1/checkers/reports', signed(c, { epoch, licenseId: c.licenseId, nodeId: a.nodeId, ok: true, issuedAt: a.probe.probe.issuedAt }))).status).toBe(400);
    // another checker's probe answered: the nonce is bound to the checker it was handed to
    const other = (await assignments(checkers.a)).items.find((i) => i.nodeId === a.nodeId);
    if (other) {
      const answer = await probe(other);
      const r = await c.account.api.post('/v1/checkers/reports', signed(c, { epoch, licenseId: c.licenseId, nodeId: a.nodeId, ok: true, issuedAt: other.probe.probe.issuedAt, answer: answer as never }));
      expect(r.status).toBe(400);
    }
    expect((await network(pool.stack.deps).reports(epoch)).some((x) => x.licenseId === c.licenseId)).toBe(false);
  });

  it('race: two different reports on one node at once → exactly one stored', async () => {
    const c = checkers.op;
    const { epoch, items } = await assignments(c);
    for (const a of items) {
      const answer = await probe(a);
      const ok = signed(c, { epoch, licenseId: c.licenseId, nodeId: a.nodeId, ok: true, issuedAt: a.probe.probe.issuedAt, answer: answer as never });
      const bad = signed(c, { epoch, licenseId: c.licenseId, nodeId: a.nodeId, ok: false, reason: 'timeout', issuedAt: a.probe.probe.issuedAt });
      const rs = await Promise.all([c.account.api.post('/v1/checkers/reports', ok), c.account.api.post('/v1/checkers/reports', bad), c.account.api.post('/v1/checkers/reports', ok)]);
      expect(rs.map((r) => r.status).sort()).toEqual([201, 409, 409]);
      expect((await network(pool.stack.deps).reports(epoch)).filter((x) => x.licenseId === c.licenseId && x.nodeId === a.nodeId)).toHaveLength(1);
    }
  });
});

describe('a change of the checker set mid-epoch', () => {
  it('leaves the epoch\'s assignments as they were: a checker registered or suspended now joins or leaves at the next roster', async () => {
    const d = pool.stack.deps;
    const pairs = (xs: { items: Assignment[] }[]) => xs.flatMap((x) => x.items.map((i) => `${i.licenseId}/${i.nodeId}`)).sort();
    const before = await Promise.all(Object.values(checkers).map(assignments));
    const epoch = before[0].epoch;
    const roster = await network(d).roster(epoch);
    // mid-epoch: a new checker registers, and b's license is suspended (as the epoch close does)
    const late = await pool.newAccount('consumer', 'late checker');
    const lateLicense = await license(late);
    expect((await late.api.post('/v1/checkers', { licenseId: lateLicense, publicKey: publicKeyText(newKey().publicKey) })).status).toBe(201);
    const l = (await d.governance.license(checkers.b.licenseId))!;
    const suspended: License = { ...l, status: 'suspended', since: d.now(), version: l.version + 1 };
    expect(await d.governance.change(l, suspended, periodOf(suspended, 'suspend', 'checker-network'), suspended.since)).toBe(true);

    const after = await Promise.all(Object.values(checkers).map(assignments));
    expect(after.map((x) => x.epoch)).toEqual(before.map(() => epoch));
    expect(pairs(after)).toEqual(pairs(before));
    expect((await late.api.get('/v1/checkers/assignments')).body.items).toEqual([]);
    expect(await network(d).roster(epoch)).toEqual(roster);
    // the next epoch's roster has the newcomer and not the suspended license
    const next = await rosterFor({ ...d, now: () => Date.now() + 86_400_000 }, epoch + 1);
    const ids = next.checkers.map((c) => c.licenseId);
    expect(ids).toContain(lateLicense);
    expect(ids).not.toContain(checkers.b.licenseId);
  });
});
