// Accounts and keys. Admins see everything; everyone else only their own account and keys, and another
// account's objects are "not found", exactly like missing ones.
import { DomainError, forbidden, notFound } from '../domain/errors';
import type { Account, Caller } from '../domain/model';
import { parseApiKey } from '../domain/api-key';
import { ignoreConditionFailure } from '../store/conditions';
import type { Deps } from './deps';

export function assertSelfOrAdmin(caller: Caller, accountId: string) {
  if (caller.role !== 'admin' && caller.accountId !== accountId) throw notFound('account');
}

/**
 * Admin-only rules are the use case's, not only the route table's: a route wired to the wrong roles, a
 * second entry point (the local demo, a script) or a future caller cannot skip them.
 */
export function assertAdmin(caller: Caller, what: string): void {
  if (caller.role !== 'admin') throw forbidden(`only an admin ${what}`);
}

export async function createAccount(d: Deps, caller: Caller, body: { name: string; role: Account['role'] }) {
  assertAdmin(caller, 'creates accounts');
  const account: Account = { id: d.newId(), name: body.name, role: body.role, createdAt: d.now(), available: 0, held: 0, staked: 0 };
  await d.accounts.create(account);
  const { record, apiKey } = await d.keys.issue({ accountId: account.id, role: account.role, now: account.createdAt });
  return { account, apiKey, keyId: record.id };
}

export async function getAccount(d: Deps, caller: Caller, id: string): Promise<Account> {
  assertSelfOrAdmin(caller, id);
  const account = await d.accounts.get(id);
  if (!account) throw notFound('account');
  return account;
}

export async function issueKey(d: Deps, caller: Caller, accountId: string) {
  if (caller.role === 'node') throw forbidden();
  const account = await getAccount(d, caller, accountId);
  const { record, apiKey } = await d.keys.issue({ accountId: account.id, role: account.role, now: d.now() });
  return { keyId: record.id, apiKey, createdAt: record.createdAt };
}

export async function listKeys(d: Deps, caller: Caller, accountId: string) {
  await getAccount(d, caller, accountId);
  const keys = await d.keys.listByAccount(accountId);
  // never the secret nor its hash; lastUsedAt is to the minute (written by the authorizer on a cache miss)
  return keys.map((k) => ({
    keyId: k.id,
    role: k.role,
    nodeId: k.nodeId ?? null,
    createdAt: k.createdAt,
    lastUsedAt: k.lastUsedAt ?? null,
    revokedAt: k.revokedAt ?? null,
  }));
}

export async function revokeKey(d: Deps, caller: Caller, keyId: string) {
  const key = await d.keys.get(keyId);
  if (!key || (caller.role !== 'admin' && key.accountId !== caller.accountId)) throw notFound('key');
  await d.keys.revoke(keyId, d.now());
}

/** Makes sure the operator's bootstrap admin key exists (local stack env, or the stack's secret on AWS). */
export async function ensureAdmin(d: Deps, rawKey: string): Promise<void> {
  const parsed = parseApiKey(rawKey);
  if (!parsed) throw new DomainError('bad_request', 'the admin key must look like gp_<10-32 lower-case letters or digits>_<22-64 url-safe characters>');
  const existing = await d.keys.get(parsed.keyId);
  if (existing) return;
  const accountId = `admin-${parsed.keyId}`;
  await d.accounts.ensure(accountId, () => ({ id: accountId, name: 'bootstrap admin', role: 'admin', createdAt: d.now(), available: 0, held: 0, staked: 0 }));
  await d.keys.issue({ accountId, role: 'admin', now: d.now(), keyId: parsed.keyId, secret: parsed.secret }).catch(ignoreConditionFailure);
}
