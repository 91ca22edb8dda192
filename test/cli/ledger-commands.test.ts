// The ledger commands against a stubbed fetch: balance, statement, stake, unstake, credits mint, audit.
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './fake-io';

let h: Harness;
afterEach(() => h?.cleanup());

const env = { GPUPOOL_API_URL: 'http://api.test', GPUPOOL_API_KEY: 'gp_k' };
const provider = { accountId: 'prov1', role: 'provider', available: 87_500_000, held: 0, staked: 12_500_000, stakeFree: 4_500_000, stakeLocked: 8_000_000, unbonding: 0, symbol: 'ATH' };

describe('balance', () => {
  it('shows every bucket in credits with the symbol; --json is the raw answer', async () => {
    h = harness({ 'GET /v1/balance': () => ({ body: provider }) }, env);
    const r = await h.run(['balance']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      ['available:  87.50 ATH', 'held:        0.00 ATH', 'staked:     12.50 ATH', '  free:      4.50 ATH', '  locked:    8.00 ATH', 'unbonding:   0.00 ATH', ''].join('\n'),
    );
    expect(r.stderr).toBe('account prov1 (provider)\n');
    expect(JSON.parse((await h.run(['balance', '--json'])).stdout)).toEqual(provider);
  });

  it('a consumer sees available and held only', async () => {
    h = harness({ 'GET /v1/balance': () => ({ body: { ...provider, role: 'consumer', staked: 0, stakeFree: 0, stakeLocked: 0, available: 1_000_000_000, held: 7_200_000 } }) }, env);
    expect((await h.run(['balance'])).stdout).toBe('available:  1,000.00 ATH\nheld:           7.20 ATH\n');
  });
});

describe('statement', () => {
  const entries = {
    items: [
      { id: 'e3', at: Date.UTC(2026, 0, 2, 3, 4, 5), kind: 'release', amount: 7_180_000, debit: { account: 'c1', bucket: 'held' }, credit: { account: 'c1', bucket: 'available' }, cause: { jobId: 'j1', attempt: 0 }, change: { held: -7_180_000, available: 7_180_000 }, balanceAfter: { available: 99_980_000, held: 0, staked: 0, locked: 0, unbonding: 0 } },
      { id: 'e2', at: Date.UTC(2026, 0, 2, 3, 4, 5), kind: 'charge', amount: 20_000, debit: { account: 'c1', bucket: 'held' }, credit: { account: 'p1', bucket: 'available' }, cause: { jobId: 'j1', attempt: 0 }, change: { held: -20_000 }, balanceAfter: { available: 92_800_000, held: 7_180_000, staked: 0, locked: 0, unbonding: 0 } },
      { id: 'e1', at: Date.UTC(2026, 0, 1), kind: 'mint', amount: 100_000_000, debit: { account: 'mint', bucket: 'available' }, credit: { account: 'c1', bucket: 'available' }, cause: { memo: 'welcome' }, change: { available: 100_000_000 }, balanceAfter: { available: 100_000_000, held: 0, staked: 0, locked: 0, unbonding: 0 } },
    ],
    nextCursor: 'next1',
  };

  it('finds the key\'s own account, lists the entries as a table and says how to get the next page', async () => {
    h = harness({ 'GET /v1/balance': () => ({ body: { ...provider, accountId: 'c1', role: 'consumer' } }), 'GET /v1/accounts/{id}/entries': () => ({ body: entries }) }, env);
    const r = await h.run(['statement', '--limit', '3']);
    expect(r.code).toBe(0);
    expect(h.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /v1/balance', 'GET /v1/accounts/c1/entries']);
    expect(h.requests[1].query).toEqual({ limit: '3' });
    expect(r.stdout).toBe(
      [
        'TIME                  KIND     CHANGE                       AVAILABLE  HELD  STAKED  UNBONDING  CAUSE',
        '2026-01-02T03:04:05Z  release  available +7.18, held -7.18      99.98  0.00    0.00       0.00  job j1 #1',
        '2026-01-02T03:04:05Z  charge   held -0.02                       92.80  7.18    0.00       0.00  job j1 #1',
        '2026-01-01T00:00:00Z  mint     available +100.00               100.00  0.00    0.00       0.00  welcome',
        '',
      ].join('\n'),
    );
    expect(r.stderr).toMatch(/Amounts in ATH/);
    expect(r.stderr).toMatch(/More: gpupool statement --account c1 --limit 3 --cursor next1/);
  });

  it('uses --account (admins) without asking whose key it is; rejects a bad --limit', async () => {
    h = harness({ 'GET /v1/accounts/{id}/entries': () => ({ body: { items: [entries.items[2]], nextCursor: null } }) }, env);
    const r = await h.run(['statement', '--account', 'c9', '--cursor', 'abc']);
    expect(h.requests.map((q) => `${q.path} ${JSON.stringify(q.query)}`)).toEqual(['/v1/accounts/c9/entries {"cursor":"abc"}']);
    expect(r.stdout).toMatch(/^2026-01-01T00:00:00Z\s+mint\s+available \+100\.00\s+100\.00\s+0\.00/m);
    expect((await h.run(['statement', '--account', 'c9', '--limit', 'lots'])).code).toBe(2);
  });

  it('shows 6 decimals for the whole page when a metered charge needs them', async () => {
    const tiny = { ...entries.items[1], change: { held: -555 }, balanceAfter: { available: 92_800_000, held: 7_199_445, staked: 0, locked: 0, unbonding: 0 } };
    h = harness({ 'GET /v1/accounts/{id}/entries': () => ({ body: { items: [tiny, entries.items[2]], nextCursor: null } }) }, env);
    const r = await h.run(['statement', '--account', 'c1']);
    expect(r.stdout).toMatch(/charge\s+held -0\.000555\s+92\.800000\s+7\.199445\s+0\.000000/);
    expect(r.stdout).toMatch(/mint\s+available \+100\.000000\s+100\.000000/);
  });
});

describe('stake and unstake', () => {
  it('convert decimal credits to micro-credits and print the new stake', async () => {
    h = harness({
      'POST /v1/stake': (q) => ({ body: { ...provider, staked: 12_500_000 + q.body.amount, stakeFree: 4_500_000 + q.body.amount } }),
      'POST /v1/unstake': () => ({ body: { ...provider, stakeFree: 0, unbonding: 4_500_000, releaseAt: Date.UTC(2026, 0, 8) } }),
    }, env);
    const s = await h.run(['stake', '12.5']);
    expect(s.code).toBe(0);
    expect(h.requests.at(-1)).toMatchObject({ method: 'POST', path: '/v1/stake', body: { amount: 12_500_000 } });
    expect(s.stdout).toBe('staked 12.50 ATH; stake now 25.00 ATH (17.00 free, 8.00 locked for nodes), available 87.50 ATH\n');
    const u = await h.run(['unstake', '4.500001']);
    expect(h.requests.at(-1)).toMatchObject({ path: '/v1/unstake', body: { amount: 4_500_001 } });
    expect(u.stdout).toBe('unstaking 4.500001 ATH: available again after 2026-01-08T00:00:00Z; 4.50 ATH unbonding, 0.00 ATH free stake left\n');
  });

  it.each([['1.0000001'], ['-3'], ['0'], ['ten'], ['1e3']])('refuse "%s" with a usage error and send nothing', async (amount) => {
    h = harness({}, env);
    const r = await h.run(['stake', amount]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: AMOUNT takes a positive number of credits .*at most 6 decimals/);
    expect(h.requests).toHaveLength(0);
  });

  it('shows the API\'s problem when there is not enough', async () => {
    h = harness({ 'POST /v1/unstake': () => ({ status: 409, body: { title: 'Conflict', status: 409, detail: 'not enough free stake' } }) }, env);
    expect(await h.run(['unstake', '1'])).toMatchObject({ code: 1, stderr: 'error: Conflict: not enough free stake\n' });
  });
});

describe('credits mint', () => {
  it('mints with an idempotency key, retried with the same key after a 5xx', async () => {
    let calls = 0;
    h = harness({
      'POST /v1/accounts/{id}/credits': (q) =>
        ++calls === 1 ? { status: 503, body: { title: 'Service Unavailable', status: 503 } } : { status: 201, body: { accountId: 'c1', available: q.body.amount, held: 0, staked: 0 } },
    }, env);
    const r = await h.run(['credits', 'mint', 'c1', '100', '--memo', 'welcome']);
    expect(r).toMatchObject({ code: 0, stdout: 'minted 100.00 to c1; available now 100.00\n' });
    expect(h.requests).toHaveLength(2);
    expect(h.requests[0].body).toEqual({ amount: 100_000_000, memo: 'welcome' });
    expect(h.requests[0].headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.requests[1].headers['idempotency-key']).toBe(h.requests[0].headers['idempotency-key']);
    expect((await h.run(['credits', 'mint', 'c1', '0.1234567'])).code).toBe(2);
    expect((await h.run(['credits', 'mint', 'c1'])).code).toBe(2);
  });
});

describe('audit', () => {
  it('exits 0 when the ledger adds up', async () => {
    h = harness({ 'GET /v1/ledger/audit': () => ({ body: { ok: true, differences: [], negative: [], duplicates: [], totalMinted: 5_000_000, totalSupply: 5_000_000, entries: 12, accounts: 4, symbol: 'ATH' } }) }, env);
    expect(await h.run(['audit'])).toMatchObject({ code: 0, stdout: 'ledger ok: 12 entries, 4 accounts; supply 5.000000 ATH, minted 5.000000 ATH\n' });
  });

  it('exits 1 and lists the differences when it does not (also with --json)', async () => {
    const bad = { ok: false, differences: [{ account: 'c1', bucket: 'held', expected: 1_000_000, actual: 2_000_000 }], negative: [], duplicates: ['x#0'], totalMinted: 5_000_000, totalSupply: 6_000_000, entries: 12, accounts: 4, symbol: 'ATH' };
    h = harness({ 'GET /v1/ledger/audit': () => ({ body: bad }) }, env);
    const r = await h.run(['audit']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ledger NOT ok: .*\(they differ\)\n\nPROBLEM\s+ACCOUNT\s+BUCKET\s+EXPECTED\s+ACTUAL\ndifference\s+c1\s+held\s+1\.000000\s+2\.000000\nduplicate entry: x#0\n$/);
    const j = await h.run(['audit', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toEqual(bad);
  });
});
