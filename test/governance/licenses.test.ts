// Checker licenses on the local stack (DynamoDB Local, over HTTP): a fixed supply that racing mints cannot
// pass, transfers and delegations by the owner only, one winner when two transfers of a license race, and
// the history that says who held and operated each license when.
import type { Caller } from '../../functions/domain/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodAt, splitReward } from '../../functions/domain/governance/licenses';
import { DEFAULT_GOVERNANCE } from '../../functions/usecases/governance-settings';
import { startPool, type Pool } from '../helpers/local-pool';

const SUPPLY = 10;
let pool: Pool;

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, governanceMs: 3_600_000, settings: { governance: { ...DEFAULT_GOVERNANCE, licenseSupply: SUPPLY } } });
}, 60_000);
afterAll(async () => pool?.stop());

const ADMIN: Caller = { accountId: 'admin', role: 'admin', keyId: 'k' };

describe('checker licenses', () => {
  it('never mints past the supply, however many mints race', async () => {
    const a = await pool.newAccount('provider', 'license buyer');
    // 6 mints of 3 at once against a supply of 10: exactly three fit
    const rs = await Promise.all(Array.from({ length: 6 }, () => pool.admin.post('/v1/licenses', { account: a.id, count: 3 })));
    const ok = rs.filter((r) => r.status === 201);
    expect(ok).toHaveLength(3);
    for (const r of rs.filter((r) => r.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.detail).toContain('supply is 10');
    }
    expect(await pool.stack.deps.governance.minted()).toBe(9);
    const mine = (await a.api.get('/v1/licenses')).body.items;
    expect(mine).toHaveLength(9);
    expect(new Set(mine.map((l: { id: string }) => l.id)).size).toBe(9);
    // one left: two asked is refused whole, one is minted, then nothing more
    expect((await pool.admin.post('/v1/licenses', { account: a.id, count: 2 })).status).toBe(409);
    expect((await pool.admin.post('/v1/licenses', { account: a.id, count: 1 })).status).toBe(201);
    expect((await pool.admin.post('/v1/licenses', { account: a.id, count: 1 })).status).toBe(409);
    expect(await pool.stack.deps.governance.minted()).toBe(SUPPLY);
  }, 60_000);

  it('refuses bad mints with a 400 and non-admins with a 403, minting nothing', async () => {
    const c = await pool.newAccount('consumer', 'not an admin');
    const before = await pool.stack.deps.governance.minted();
    expect((await c.api.post('/v1/licenses', { account: c.id, count: 1 })).status).toBe(403);
    expect((await pool.admin.post('/v1/licenses', { account: c.id, count: 0 })).status).toBe(400);
    expect((await pool.admin.post('/v1/licenses', { account: c.id, count: 41 })).status).toBe(400);
    expect((await pool.admin.post('/v1/licenses', { account: 'nobody-here', count: 1 })).status).toBe(400);
    expect((await pool.admin.post('/v1/licenses', { account: c.id, count: 1, extra: true })).status).toBe(400);
    expect(await pool.stack.deps.governance.minted()).toBe(before);
  });
});

describe('transfers and delegations', () => {
  let owner: Awaited<ReturnType<Pool['newAccount']>>;
  let licenseIds: string[];
  beforeAll(async () => {
    // a pool of its own supply: the first describe used this one's up
    owner = await pool.newAccount('provider', 'owner');
    const d = pool.stack.deps;
    // licenses written through the use case with a larger supply, as a second deployment setting would
    const { mintLicenses } = await import('../../functions/usecases/licenses');
    const r = await mintLicenses({ ...d, settings: { ...d.settings, governance: { ...DEFAULT_GOVERNANCE, licenseSupply: SUPPLY + 5 } } }, ADMIN, { account: owner.id, count: 5 });
    licenseIds = r.items.map((l) => l.id);
  });

  it('lets exactly one of two racing transfers of a license win, and records both holders', async () => {
    const b = await pool.newAccount('provider', 'buyer b');
    const c = await pool.newAccount('consumer', 'buyer c');
    const id = licenseIds[0];
    const rs = await Promise.all([owner.api.post(`/v1/licenses/${id}/transfer`, { to: b.id }), owner.api.post(`/v1/licenses/${id}/transfer`, { to: c.id })]);
    // the loser read the license before the winner's write (409: the version moved) or after it (404: no longer
    // the caller's); either way it changed nothing, as the history below shows
    const statuses = rs.map((r) => r.status).sort();
    expect(statuses[0]).toBe(200);
    expect([404, 409]).toContain(statuses[1]);
    const winner = rs[0].status === 200 ? b : c;
    const loser = winner === b ? c : b;
    const got = (await winner.api.get(`/v1/licenses/${id}`)).body;
    expect(got.license).toMatchObject({ id, owner: winner.id, operator: null, role: 'owner' });
    expect((await loser.api.get(`/v1/licenses/${id}`)).status).toBe(404);
    expect((await owner.api.get(`/v1/licenses/${id}`)).status).toBe(404);
    // the history: minted to the owner until the transfer, then the winner's, still open
    const h = got.history;
    expect(h).toHaveLength(2);
    expect(h[0]).toMatchObject({ seq: 1, ownerId: owner.id, change: 'mint' });
    expect(h[1]).toMatchObject({ seq: 2, ownerId: winner.id, change: 'transfer', by: owner.id });
    expect(h[0].to).toBe(h[1].from);
    expect(h[1].to).toBeUndefined();
    expect(periodAt(h, h[1].from - 1)?.ownerId).toBe(owner.id);
    expect(periodAt(h, h[1].from)?.ownerId).toBe(winner.id);
    // the old owner can transfer it no more
    expect((await owner.api.post(`/v1/licenses/${id}/transfer`, { to: loser.id })).status).toBe(404);
  });

  it('refuses a transfer or delegation by anyone but the owner, changing nothing', async () => {
    const stranger = await pool.newAccount('provider', 'stranger');
    const operator = await pool.newAccount('provider', 'operator');
    const id = licenseIds[1];
    expect((await owner.api.post(`/v1/licenses/${id}/delegate`, { operator: operator.id, rewardShareBps: 2_000 })).status).toBe(200);
    const before = await pool.stack.deps.governance.license(id);
    // a stranger does not see it; the operator sees it but may not dispose of it
    expect((await stranger.api.post(`/v1/licenses/${id}/transfer`, { to: stranger.id })).status).toBe(404);
    expect((await stranger.api.post(`/v1/licenses/${id}/delegate`, { operator: stranger.id, rewardShareBps: 10_000 })).status).toBe(404);
    expect((await operator.api.post(`/v1/licenses/${id}/transfer`, { to: operator.id })).status).toBe(403);
    expect((await operator.api.post(`/v1/licenses/${id}/delegate`, { operator: operator.id, rewardShareBps: 10_000 })).status).toBe(403);
    expect(await pool.stack.deps.governance.license(id)).toEqual(before);
    // the operator lists what it runs, with the share agreed
    const listed = (await operator.api.get('/v1/licenses')).body.items;
    expect(listed).toEqual([expect.objectContaining({ id, owner: owner.id, operator: operator.id, rewardShareBps: 2_000, role: 'operator', status: 'active' })]);
    // the split of a reward follows the delegation
    expect(splitReward(before!, 1_000)).toEqual({ ownerId: owner.id, owner: 800, operatorId: operator.id, operator: 200 });
    // ending the delegation is the owner's too; the history has all three periods
    expect((await owner.api.post(`/v1/licenses/${id}/delegate`, { operator: null })).status).toBe(200);
    const h = (await owner.api.get(`/v1/licenses/${id}`)).body.history;
    expect(h.map((p: { change: string }) => p.change)).toEqual(['mint', 'delegate', 'undelegate']);
    expect(h[1]).toMatchObject({ operatorId: operator.id, rewardShareBps: 2_000 });
    expect(h[2].operatorId).toBeUndefined();
  });

  it('refuses bad transfers and delegations with a 400', async () => {
    const id = licenseIds[2];
    const before = await pool.stack.deps.governance.license(id);
    expect((await owner.api.post(`/v1/licenses/${id}/transfer`, { to: owner.id })).status).toBe(400);
    expect((await owner.api.post(`/v1/licenses/${id}/transfer`, { to: 'no-such-account' })).status).toBe(400);
    expect((await owner.api.post(`/v1/licenses/${id}/transfer`, {})).status).toBe(400);
    expect((await owner.api.post(`/v1/licenses/${id}/delegate`, { operator: owner.id, rewardShareBps: 10 })).status).toBe(400);
    expect((await owner.api.post(`/v1/licenses/${id}/delegate`, { operator: 'x', rewardShareBps: 10_001 })).status).toBe(400);
    expect((await owner.api.post(`/v1/licenses/${id}/delegate`, { operator: null })).status).toBe(409);
    expect((await owner.api.post(`/v1/licenses/no-such-license/transfer`, { to: owner.id })).status).toBe(404);
    expect(await pool.stack.deps.governance.license(id)).toEqual(before);
  });
});
