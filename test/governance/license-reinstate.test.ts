// An admin reinstates a checker license the network suspended (POST /v1/licenses/{id}/reinstate), on the
// local stack over HTTP: only an admin may; the history records who, when and why; a repeat (or racing
// admins) writes one record; a license that is not suspended is a 409, a missing one a 404; the strikes that
// suspended it are cleared, and the license may register its checker again.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUSPEND_AFTER_STRIKES } from '../../functions/domain/checker/checker-standing';
import { publicKeyText } from '../../functions/domain/checker/signing';
import { periodOf, type License } from '../../functions/domain/governance/licenses';
import { network } from '../../functions/usecases/checker-network';
import { DEFAULT_GOVERNANCE } from '../../functions/usecases/governance-settings';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
type Account = Awaited<ReturnType<Pool['newAccount']>>;
let holder: Account;

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, governanceMs: 3_600_000, settings: { governance: { ...DEFAULT_GOVERNANCE, licenseSupply: 20 } } });
  holder = await pool.newAccount('consumer', 'checker holder', false);
}, 60_000);
afterAll(async () => pool?.stop());

const key = () => publicKeyText(generateKeyPairSync('ed25519').publicKey);

async function mintOne(): Promise<string> {
  const r = await pool.admin.post('/v1/licenses', { account: holder.id, count: 1 });
  expect(r.status).toBe(201);
  return r.body.items[0].id as string;
}

/** What the epoch close does after the third strike (functions/usecases/checker-epoch.ts suspend). */
async function suspendAsTheNetworkDoes(id: string): Promise<void> {
  const d = pool.stack.deps;
  const net = network(d);
  if (!(await net.registration(id))) expect((await holder.api.post('/v1/checkers', { licenseId: id, publicKey: key() })).status).toBe(201);
  const reg = (await net.registration(id))!;
  expect(await net.scoreInto(id, (reg.scoredEpoch ?? 0) + 1, { standing: 0.4, strikes: SUSPEND_AFTER_STRIKES })).toBe(true);
  const l = (await d.governance.license(id))!;
  const after: License = { ...l, status: 'suspended', since: d.now(), version: l.version + 1 };
  expect(await d.governance.change(l, after, periodOf(after, 'suspend', 'checker-network'), after.since)).toBe(true);
}

const history = async (id: string) => (await pool.admin.get(`/v1/licenses/${id}`)).body.history as { change: string; by: string; reason?: string; to?: number; status: string }[];

describe('reinstating a suspended checker license', () => {
  it('is for admins only: the holder and a stranger are refused and nothing changes', async () => {
    const id = await mintOne();
    await suspendAsTheNetworkDoes(id);
    const before = await history(id);
    const stranger = await pool.newAccount('provider', 'stranger');
    expect((await holder.api.post(`/v1/licenses/${id}/reinstate`, {})).status).toBe(403);
    expect((await stranger.api.post(`/v1/licenses/${id}/reinstate`, {})).status).toBe(403);
    expect(await history(id)).toEqual(before);
    expect((await pool.admin.get(`/v1/licenses/${id}`)).body.license.status).toBe('suspended');
    // and a suspended license cannot register its checker
    expect((await holder.api.post('/v1/checkers', { licenseId: id, publicKey: key() })).status).toBe(409);
  });

  it('reinstates with an audit record, clears the suspending strikes and lets the checker register again', async () => {
    const id = await mintOne();
    await suspendAsTheNetworkDoes(id);
    const r = await pool.admin.post(`/v1/licenses/${id}/reinstate`, { reason: 'disagreements were a network outage on its side' });
    expect(r.status).toBe(200);
    expect(r.body.license.status).toBe('active');
    const h = r.body.history as Awaited<ReturnType<typeof history>>;
    expect(h.map((p) => p.change)).toEqual(['mint', 'suspend', 'reinstate']);
    const last = h.at(-1)!;
    expect(last).toMatchObject({ change: 'reinstate', status: 'active', reason: 'disagreements were a network outage on its side' });
    expect(last.by).not.toBe(holder.id);
    expect(last.to).toBeUndefined();
    expect(h[1].to).toBeDefined(); // the suspension's period is closed
    const reg = (await network(pool.stack.deps).registration(id))!;
    expect(reg.strikes).toBe(0);
    expect(reg.standing).toBe(0.4); // earned back, not given back
    expect((await holder.api.post('/v1/checkers', { licenseId: id, publicKey: key() })).status).toBe(201);
  });

  it('is idempotent: a repeat, or admins racing, write one record and answer the same', async () => {
    const id = await mintOne();
    await suspendAsTheNetworkDoes(id);
    const rs = await Promise.all(Array.from({ length: 5 }, () => pool.admin.post(`/v1/licenses/${id}/reinstate`, {})));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    for (const r of rs) expect(r.body.license.status).toBe('active');
    const again = await pool.admin.post(`/v1/licenses/${id}/reinstate`);
    expect(again.status).toBe(200);
    expect((await history(id)).map((p) => p.change)).toEqual(['mint', 'suspend', 'reinstate']);
    // suspended again later: a new suspension is reinstated by a new record
    await suspendAsTheNetworkDoes(id);
    expect((await pool.admin.post(`/v1/licenses/${id}/reinstate`, {})).status).toBe(200);
    expect((await history(id)).map((p) => p.change)).toEqual(['mint', 'suspend', 'reinstate', 'suspend', 'reinstate']);
  });

  it('answers 409 for a license that is not suspended, 404 for none, 400 for a bad body; nothing changes', async () => {
    const id = await mintOne();
    const r = await pool.admin.post(`/v1/licenses/${id}/reinstate`, {});
    expect(r.status).toBe(409);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body.detail).toContain('not suspended');
    expect((await pool.admin.post('/v1/licenses/lic_01JNOSUCHLICENSE0000000000/reinstate', {})).status).toBe(404);
    // delegated after a reinstatement: the reinstatement is no longer the latest change, so a repeat is a 409
    await suspendAsTheNetworkDoes(id);
    const operator = await pool.newAccount('provider', 'operator');
    expect((await pool.admin.post(`/v1/licenses/${id}/reinstate`, { reason: 'x'.repeat(501) })).status).toBe(400);
    expect((await pool.admin.post(`/v1/licenses/${id}/reinstate`, { because: 'no' })).status).toBe(400);
    expect((await history(id)).map((p) => p.change)).toEqual(['mint', 'suspend']);
    expect((await pool.admin.post(`/v1/licenses/${id}/reinstate`, {})).status).toBe(200);
    expect((await holder.api.post(`/v1/licenses/${id}/delegate`, { operator: operator.id, rewardShareBps: 1_000 })).status).toBe(200);
    expect((await pool.admin.post(`/v1/licenses/${id}/reinstate`, {})).status).toBe(409);
    expect((await history(id)).map((p) => p.change)).toEqual(['mint', 'suspend', 'reinstate', 'delegate']);
  });
});
