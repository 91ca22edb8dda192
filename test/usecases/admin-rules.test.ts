// Admin-only rules live in the use cases, not only in the route table (issue 18): a non-admin caller that
// reaches account creation, minting or the ledger audit by any path (a route wired to the wrong roles, a
// script) is refused before anything is read or written.
import { describe, expect, it } from 'vitest';
import type { Caller } from '../../functions/domain/model';
import { createAccount } from '../../functions/usecases/accounts';
import type { Deps } from '../../functions/usecases/deps';
import { mint, requestAudit } from '../../functions/usecases/ledger';

/** deps whose every use fails the test: a refusal must come before any store is touched */
const untouchable = new Proxy({} as Deps, {
  get: (_t, prop) => {
    throw new Error(`touched deps.${String(prop)}`);
  },
});

const callers: Caller[] = [
  { accountId: 'c', role: 'consumer', keyId: 'k' },
  { accountId: 'p', role: 'provider', keyId: 'k' },
  { accountId: 'p', role: 'node', keyId: 'k', nodeId: 'n' },
];
const admin: Caller = { accountId: 'a', role: 'admin', keyId: 'k' };

const operations = {
  'create an account': (c: Caller) => createAccount(untouchable, c, { name: 'x', role: 'admin' }),
  'mint credits': (c: Caller) => mint(untouchable, c, c.accountId, 1_000_000),
  'audit the ledger': (c: Caller) => requestAudit(untouchable, c),
};

describe('admin-only use cases', () => {
  for (const [what, run] of Object.entries(operations)) {
    it.each(callers.map((c) => [c.role, c] as const))(`a %s key may not ${what}, and nothing is touched`, async (_role, caller) => {
      await expect(run(caller)).rejects.toMatchObject({ code: 'forbidden' });
    });

    it(`an admin gets past the rule to ${what} (it reaches the stores)`, async () => {
      await expect(run(admin)).rejects.toThrow(/touched deps\./);
    });
  }
});
