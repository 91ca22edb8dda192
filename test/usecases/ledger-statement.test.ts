// A ledger statement on DynamoDB Local shows a tenant its own account and the system's by id, and any
// other tenant only by role: a consumer's charge goes to "provider", a provider's slash refund goes to
// "consumer". An admin sees the entries as stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LEDGER } from '../../functions/domain/ledger/model';
import { holdPosting, mintPosting, moveWithin, settlementPosting, slashPosting } from '../../functions/domain/ledger/postings';
import type { Caller } from '../../functions/domain/model';
import { makeDocClient } from '../../functions/store/clients';
import { buildDeps, newId, settingsFromEnv, type Deps } from '../../functions/usecases/deps';
import { statement } from '../../functions/usecases/ledger';
import { startEngines, type Engines } from '../helpers/engines';

let engines: Engines;
let d: Deps;

beforeAll(async () => {
  engines = await startEngines();
  d = buildDeps({ db: makeDocClient(engines.ddb), sqs: engines.sqs, tables: engines.tableNames, settings: settingsFromEnv({}) });
}, 120_000);

afterAll(async () => {
  await engines?.stop();
});

async function account(role: 'consumer' | 'provider'): Promise<Caller> {
  const id = `${role}-${newId()}`;
  await d.accounts.create({ id, name: id, role, createdAt: Date.now(), available: 0, held: 0, staked: 0 });
  return { accountId: id, role, keyId: 'k' };
}

describe('ledger statement', () => {
  it('never shows one tenant another tenant’s account id', async () => {
    const [consumer, provider] = [await account('consumer'), await account('provider')];
    const [c, p] = [consumer.accountId, provider.accountId];
    const at = Date.now();
    const job = { jobId: `job-${newId()}`, attempt: 1, nodeId: 'node-1' };
    await d.ledger.post([mintPosting(`mint/${c}/${newId()}`, c, 10_000_000, at)]);
    await d.ledger.post([mintPosting(`mint/${p}/${newId()}`, p, 10_000_000, at)]);
    await d.ledger.post([moveWithin(`stake/${p}/${newId()}`, 'stake', p, 5_000_000, at)]);
    await d.ledger.post([holdPosting({ ...job, consumerId: c, amount: 2_000_000, at: at + 1 })]);
    await d.ledger.post([settlementPosting({ ...job, consumerId: c, providerId: p, hold: 2_000_000, charge: 1_000_000, at: at + 2 }, DEFAULT_LEDGER)]);
    await d.ledger.post([
      slashPosting({ key: `slash/${newId()}`, providerId: p, from: 'staked', nodeId: 'node-1', amount: 2_000_000, harmed: [{ consumerId: c, paid: 1_000_000 }], compensationBps: 1000, evidence: 'probe', at: at + 3 }),
    ]);

    const mine = await statement(d, consumer, c, 100);
    const theirs = await statement(d, provider, p, 100);
    expect(JSON.stringify(mine)).not.toContain(p);
    expect(JSON.stringify(theirs)).not.toContain(c);

    const charge = mine.items.find((e) => e.kind === 'charge')!;
    expect(charge.debit).toEqual({ account: c, bucket: 'held' });
    expect(charge.credit).toEqual({ account: 'provider', bucket: 'available' });
    expect(charge.cause).toMatchObject({ consumerId: c, jobId: job.jobId }); // the consumer's own id stays
    expect(mine.items.find((e) => e.kind === 'slash_refund')!.debit).toEqual({ account: 'provider', bucket: 'staked' });
    expect(mine.items.find((e) => e.kind === 'fee')!.credit.account).toMatch(/^sys-/); // the system's accounts keep their names

    const paid = theirs.items.find((e) => e.kind === 'charge')!;
    expect(paid.debit).toEqual({ account: 'consumer', bucket: 'held' });
    expect(paid.credit).toEqual({ account: p, bucket: 'available' });
    expect(paid.cause).not.toHaveProperty('consumerId');
    expect(theirs.items.find((e) => e.kind === 'slash_refund')!.credit).toEqual({ account: 'consumer', bucket: 'available' });
    expect(theirs.items.find((e) => e.kind === 'mint')!.debit.account).toBe('mint');

    // an admin audits: the ids as stored
    const admin: Caller = { accountId: 'admin', role: 'admin', keyId: 'k' };
    const audited = await statement(d, admin, p, 100);
    expect(audited.items.find((e) => e.kind === 'charge')).toMatchObject({ debit: { account: c }, cause: { consumerId: c } });
  });
});
