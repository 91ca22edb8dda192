// The ledger store on DynamoDB Local: postings as items, a slash that pays many consumers split over
// several items in one transaction, retries that post nothing twice, statements by account.
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit } from '../../functions/domain/ledger/audit';
import { SYSTEM_ACCOUNTS, type Entry } from '../../functions/domain/ledger/model';
import { mintPosting, moveWithin, slashPosting } from '../../functions/domain/ledger/postings';
import { AccountsStore } from '../../functions/store/accounts-store';
import { InsufficientFundsError, LedgerStore } from '../../functions/store/ledger-store';
import { startEngines, type Engines } from '../helpers/engines';

let engines: Engines;
let ledger: LedgerStore;
let accounts: AccountsStore;

beforeAll(async () => {
  engines = await startEngines();
  const doc = DynamoDBDocumentClient.from(engines.ddb);
  ledger = new LedgerStore(doc, engines.tableNames.ledger, engines.tableNames.accounts);
  accounts = new AccountsStore(doc, engines.tableNames.accounts);
}, 60_000);
afterAll(async () => engines?.stop());

const account = (id: string) => accounts.create({ id, name: id, role: 'consumer', createdAt: 1, available: 0, held: 0, staked: 0 });

async function auditAll() {
  const entries: Entry[] = [];
  for await (const e of ledger.all()) entries.push(e);
  const accts = [];
  for await (const a of accounts.all()) accts.push(a);
  return audit(entries, accts);
}

describe('ledger store', () => {
  it('splits a slash paying six consumers over items of at most two accounts, in one transaction, once', async () => {
    const consumers = Array.from({ length: 6 }, (_, i) => `s-c${i}`);
    await Promise.all(['s-p', ...consumers].map(account));
    await ledger.post([mintPosting('mint/s-p', 's-p', 10_000, 1), moveWithin('lock/s-p', 'lock', 's-p', 0, 2)]);
    await ledger.post([moveWithin('stake/s-p', 'stake', 's-p', 10_000, 2)]);
    await ledger.post([moveWithin('lock2/s-p', 'lock', 's-p', 10_000, 3)]);
    const slash = slashPosting({
      key: 'quarantine/n1/9/slash', providerId: 's-p', from: 'locked', nodeId: 'n1', amount: 5000,
      harmed: consumers.map((c, i) => ({ consumerId: c, paid: 100 * (i + 1) })), compensationBps: 1000, evidence: 'canary lied', at: 9,
    });
    const { items } = ledger.items([slash]);
    // six consumers + provider + treasury balances, and the posting as several items (two accounts each at most)
    expect(items.filter((i) => i.Put).length).toBeGreaterThan(1);
    // the same slash posted by 10 racing retries lands once
    const results = await Promise.all(Array.from({ length: 10 }, () => ledger.post([slash]).catch((e) => e)));
    expect(results.filter((r) => r === true)).toHaveLength(1);
    for (const [i, c] of consumers.entries()) expect((await accounts.get(c))!.available).toBe(110 * (i + 1));
    expect((await accounts.get('s-p'))!.locked).toBe(5000);
    expect((await accounts.get(SYSTEM_ACCOUNTS.treasury))!.available).toBeGreaterThanOrEqual(5000 - 110 * 21);
    const a = await auditAll();
    expect(a.differences).toEqual([]);
    expect(a.ok).toBe(true);
    // every consumer's statement shows its refund, with the evidence
    const st = await ledger.statement('s-c5', 10);
    expect(st.items).toEqual([expect.objectContaining({ kind: 'slash_refund', amount: 660, cause: expect.objectContaining({ evidence: 'canary lied' }) })]);
    // the treasury (a system account) finds it too
    const t = await ledger.statement(SYSTEM_ACCOUNTS.treasury, 10);
    expect(t.items.some((e) => e.kind === 'slash_treasury')).toBe(true);
  });

  it('refuses a debit its bucket cannot cover, and writes nothing', async () => {
    await account('poor');
    await expect(ledger.post([moveWithin('stake/poor', 'stake', 'poor', 1, 1)])).rejects.toBeInstanceOf(InsufficientFundsError);
    expect(await ledger.statement('poor', 10)).toEqual({ items: [], nextCursor: undefined });
    expect((await accounts.get('poor'))!.staked).toBe(0);
  });

  it('pages a statement newest first without losing or repeating an entry', async () => {
    await account('pager');
    for (let i = 0; i < 23; i++) await ledger.post([mintPosting(`mint/pager/${i}`, 'pager', i + 1, 1000 + i)]);
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await ledger.statement('pager', 5, cursor);
      seen.push(...page.items.map((e) => e.amount));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => 23 - i));
  });
});
