// The ledger's use cases: minting, balances and statements, the audit, stake (with node locks and the
// unstaking cooldown), slashing and checker rewards. Every movement is a posting with an idempotency key
// derived from its cause; functions/domain/ledger/postings.ts builds them, the ledger store writes them.
import { BUCKETS, MINT_SOURCE, STAKE_EXEMPT_PROVIDERS, SYSTEM_ACCOUNTS, type Bucket, type Entry } from '../domain/ledger/model';
import { audit } from '../domain/ledger/audit';
import { balanceDeltas, mintPosting, moveWithin, rewardPosting, slashPosting, type Harmed } from '../domain/ledger/postings';
import { conflict, DomainError, forbidden, notFound } from '../domain/errors';
import type { Account, Caller } from '../domain/model';
import { encodeCursor } from '../store/cursor';
import { InsufficientFundsError, StakeLockMovedError } from '../store/ledger-store';
import type { NodeItem } from '../store/nodes-store';
import { assertAdmin } from './accounts';
import type { Deps } from './deps';
import { ledgerSettings } from './parameters';
import { LostRaceError, retrying } from './retry';

export type Balances = Record<Bucket, number>;
const balancesOf = (a: Partial<Account> | undefined): Balances =>
  Object.fromEntries(BUCKETS.map((b) => [b, (a as Record<string, number> | undefined)?.[b] ?? 0])) as Balances;

/** Creates the system accounts (fees, reward pool, treasury) if they are missing. Idempotent. */
export async function ensureSystemAccounts(d: Deps): Promise<void> {
  const names: Record<string, string> = { [SYSTEM_ACCOUNTS.fees]: 'protocol fees', [SYSTEM_ACCOUNTS.rewards]: 'checker reward pool', [SYSTEM_ACCOUNTS.treasury]: 'treasury' };
  for (const [id, name] of Object.entries(names)) {
    // a settlement may have created the item first (ADD on a missing item): that is fine too
    await d.accounts.ensure(id, () => ({ id, name, role: 'admin', createdAt: d.now(), available: 0, held: 0, staked: 0 }));
  }
}

/** Admin mint: the only way credits come into being. */
export async function mint(d: Deps, caller: Caller, accountId: string, amount: number, memo?: string): Promise<Account> {
  assertAdmin(caller, 'mints credits');
  if (!(await d.accounts.get(accountId))) throw notFound('account');
  await d.ledger.post([mintPosting(`mint/${accountId}/${d.newId()}`, accountId, amount, d.now(), memo)]);
  return (await d.accounts.get(accountId))!;
}

/** `known`: the account as the caller just read it (one read per request when nothing is released). */
export async function balance(d: Deps, caller: Caller, known?: Account) {
  if (caller.role === 'node') throw forbidden();
  const read = known ?? (await d.accounts.get(caller.accountId));
  if (!read) throw notFound('account');
  const a = (await releaseUnbonded(d, caller.accountId, read)) ? await d.accounts.get(caller.accountId) : read;
  if (!a) throw notFound('account');
  const b = balancesOf(a);
  // staked shows all stake (free and locked for nodes); the parts are listed too
  return { available: b.available, held: b.held, staked: b.staked + b.locked, stakeFree: b.staked, stakeLocked: b.locked, unbonding: b.unbonding, symbol: d.settings.ledger.symbol };
}

interface StatementCursor {
  k: string;
  b: Balances;
}

/** An account's entries, newest first, each with its change to the account and the balances after it. */
export async function statement(d: Deps, caller: Caller, accountId: string, limit: number, cursor?: string) {
  if (caller.role !== 'admin' && caller.accountId !== accountId) throw notFound('account');
  let after: Balances;
  let key: string | undefined;
  if (cursor) {
    const c = decodeStatementCursor(cursor);
    key = c.k;
    after = c.b;
  } else {
    const a = await d.accounts.get(accountId);
    if (!a) throw notFound('account');
    after = balancesOf(a);
  }
  const page = await d.ledger.statement(accountId, limit, key);
  const items = page.items.map((e) => {
    const delta = balanceDeltas([{ key: e.id, at: e.at, entries: [e] }]).get(accountId) ?? {};
    const seen = caller.role === 'admin' ? e : tenantView(e, accountId);
    const row = { id: e.id, at: e.at, kind: e.kind, amount: e.amount, debit: seen.debit, credit: seen.credit, cause: seen.cause, change: delta, balanceAfter: { ...after } };
    for (const [b, v] of Object.entries(delta)) after[b as Bucket] -= v;
    return row;
  });
  const nextCursor = page.nextCursor ? encodeCursor({ k: page.nextCursor, b: after } satisfies StatementCursor) : undefined;
  return { items, nextCursor: nextCursor ?? null };
}

/**
 * What a tenant may see of an entry: its own account and the system's by name, any other tenant only by
 * the role it plays (a consumer is paid by a slash, a provider is paid a charge), because account ids are
 * what API keys belong to and say who trades with whom. Admins see the entry as stored.
 */
function tenantView(e: Entry, accountId: string): Pick<Entry, 'debit' | 'credit' | 'cause'> {
  const counterparty = (side: Entry['debit'], role: 'consumer' | 'provider') =>
    side.account === accountId || side.account === MINT_SOURCE || SYSTEM_IDS.has(side.account) ? side : { ...side, account: role };
  // the only kinds that move credits between two tenants: charges (consumer → provider), slash refunds (provider → consumer)
  const [from, to]: ['consumer' | 'provider', 'consumer' | 'provider'] = e.kind === 'slash_refund' ? ['provider', 'consumer'] : ['consumer', 'provider'];
  const { consumerId, ...cause } = e.cause;
  return { debit: counterparty(e.debit, from), credit: counterparty(e.credit, to), cause: consumerId === accountId ? e.cause : cause };
}
const SYSTEM_IDS: ReadonlySet<string> = new Set(Object.values(SYSTEM_ACCOUNTS));

function decodeStatementCursor(cursor: string): StatementCursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as StatementCursor;
    if (typeof c.k !== 'string' || c.k.length > 200 || !c.b || BUCKETS.some((b) => !Number.isSafeInteger(c.b[b]))) throw new Error('shape');
    return c;
  } catch {
    throw new DomainError('bad_request', 'cursor is not valid');
  }
}

/**
 * Recomputes every balance from the entries and compares (admin; a full scan of both tables). Two scans
 * are no snapshot: a posting that lands between them shows as a passing difference, so a difference is
 * only reported when it survives two more audits (a real one never goes away).
 */
/** GET /v1/ledger/audit: every account's balances recomputed from its entries (admin only). */
export async function requestAudit(d: Deps, caller: Caller) {
  assertAdmin(caller, 'audits the ledger');
  return auditLedger(d);
}

export async function auditLedger(d: Deps, retries = 2) {
  for (let i = 0; ; i++) {
    const entries: Entry[] = [];
    for await (const e of d.ledger.all()) entries.push(e);
    const accounts: Account[] = [];
    for await (const a of d.accounts.all()) accounts.push(a);
    const r = audit(entries, accounts);
    if (r.ok || i >= retries) return { ...r, symbol: d.settings.ledger.symbol };
    await new Promise((res) => setTimeout(res, 100 * (i + 1)));
  }
}

function mustBeProvider(caller: Caller) {
  if (caller.role !== 'provider') throw forbidden('only providers stake');
}

export async function stake(d: Deps, caller: Caller, amount: number) {
  mustBeProvider(caller);
  await releaseUnbonded(d, caller.accountId);
  await postOrExplain(d, () => d.ledger.post([moveWithin(`stake/${caller.accountId}/${d.newId()}`, 'stake', caller.accountId, amount, d.now())]), 'available');
  return balance(d, caller);
}

/** Moves free stake to unbonding; it becomes available after the cooldown. Stake locked for nodes cannot be unstaked. */
export async function unstake(d: Deps, caller: Caller, amount: number) {
  mustBeProvider(caller);
  await releaseUnbonded(d, caller.accountId);
  const now = d.now();
  const releaseAt = now + d.settings.ledger.unstakeCooldownMs;
  await postOrExplain(
    d,
    () => d.ledger.post([moveWithin(`unstake/${caller.accountId}/${d.newId()}`, 'unstake', caller.accountId, amount, now, { releaseAt })]),
    'free stake (stake locked for a node stays locked while it is registered and, after it is deregistered, for the unstaking cooldown: evidence against it may still come)',
  );
  return { ...(await balance(d, caller)), releaseAt };
}

async function postOrExplain(d: Deps, post: () => Promise<unknown>, what: string) {
  try {
    await post();
  } catch (e) {
    if (e instanceof InsufficientFundsError) throw conflict(`not enough ${what}`);
    throw e;
  }
}

/** Unbonding credits whose cooldown passed become available (each release keyed by its unstake entry). */
export async function releaseUnbonded(d: Deps, accountId: string, known?: Account): Promise<number> {
  const a = known ?? (await d.accounts.get(accountId));
  if (!a?.unbonding) return 0;
  const [unstakes, released] = await Promise.all([d.ledger.ofKind(accountId, 'credit', 'unstake'), d.ledger.ofKind(accountId, 'debit', 'unbonded')]);
  const done = new Set(released.map((e) => e.cause.memo));
  const now = d.now();
  const due = unstakes.filter((e) => (e.cause.releaseAt ?? Infinity) <= now && !done.has(e.id));
  for (const e of due) {
    await d.ledger.post([moveWithin(`unbonded/${e.id}`, 'unbonded', accountId, e.amount, now, { memo: e.id })]).catch((err) => {
      if (!(err instanceof InsufficientFundsError)) throw err;
    });
  }
  return due.length;
}

/** Starts the statusReason of a node held back for its provider's stake. */
export const STAKE_WAIT = 'waiting for stake:';

/** Stake a node needs locked before it takes work: its GPUs × the minimum per GPU. */
export const stakeNeeded = (d: Deps, node: Pick<NodeItem, 'totalGpus' | 'providerId'>) =>
  STAKE_EXEMPT_PROVIDERS.includes(node.providerId) ? 0 : node.totalGpus * d.settings.ledger.minStakePerGpu;

/**
 * Locks the provider's stake for a node (free stake → locked, and the node item records it, in one
 * transaction). Returns undefined when the node is covered, else why not.
 */
export async function ensureStakeLock(d: Deps, nodeId: string): Promise<string | undefined> {
  return retrying(
    async () => {
      const node = await d.nodes.get(nodeId);
      if (!node) throw notFound('node');
      const need = stakeNeeded(d, node);
      const have = node.stakeLocked ?? 0;
      if (have >= need) return undefined;
      try {
        await d.ledger.post(
          [moveWithin(`node/${node.id}/lock/${node.version}`, 'lock', node.providerId, need - have, d.now(), { nodeId: node.id })],
          [d.nodes.stakeLockItem(node, need)],
        );
        return undefined;
      } catch (e) {
        if (!(e instanceof InsufficientFundsError)) throw e;
        const sym = d.settings.ledger.symbol;
        return `${STAKE_WAIT} ${fmt(need - have)} ${sym} more free stake needed (${node.totalGpus} GPUs × ${fmt(d.settings.ledger.minStakePerGpu)} ${sym}); POST /v1/stake`;
      }
    },
    // the node moved (its version fences the lock): read it again
    { retries: STAKE_LOCK_RETRIES, on: (e) => e instanceof StakeLockMovedError, exhausted: nodeMoved },
  );
}

/** a node's stake lock or release is tried this many times more when the node moves under it */
const STAKE_LOCK_RETRIES = 4;
const nodeMoved = (): never => {
  throw new LostRaceError('node changed concurrently; try again');
};

const fmt = (micro: number) => String(micro / 1_000_000);

/**
 * Gives a node's lock back to its provider's free stake, under the node's version and only while `when`
 * holds for the node as read (a deregistered node's removal, once its hold has passed).
 */
export async function releaseStakeLock(d: Deps, nodeId: string, when: (n: NodeItem) => boolean = () => true): Promise<void> {
  await retrying(
    async () => {
      const node = await d.nodes.get(nodeId);
      if (!node?.stakeLocked || !when(node)) return;
      await d.ledger.post([moveWithin(`node/${node.id}/unlock/${node.version}`, 'unlock', node.providerId, node.stakeLocked, d.now(), { nodeId: node.id })], [d.nodes.stakeLockItem(node, 0)]);
    },
    { retries: STAKE_LOCK_RETRIES, on: (e) => e instanceof StakeLockMovedError, exhausted: nodeMoved },
  );
}

/** The most harmed consumers a slash pays back in one transaction (DynamoDB takes 100 items). */
const MAX_HARMED = 28;

export interface SlashResult {
  slashed: number;
  refunded: number;
}

const slashFigures = (entries: readonly Entry[]): SlashResult => ({
  slashed: entries.reduce((s, e) => s + e.amount, 0),
  refunded: entries.filter((e) => e.kind === 'slash_refund').reduce((s, e) => s + e.amount, 0),
});

/**
 * A proof of dishonesty: a share of the stake that backed the node goes back to the consumers it charged
 * in the evidence window — what they paid plus compensation, the most harmed first — and the rest to the
 * treasury. The stake is the node's lock, which outlives a deregistration until the node's hold ends
 * (domain/node/removal.ts); a node that never needed a lock is backed by its provider's free stake and,
 * after an unstake, by the stake still unbonding (the cooldown is exactly so that it stays slashable).
 * Idempotent by `key`: a repeat posts nothing and answers what the first one slashed.
 */
export async function slashNode(d: Deps, nodeId: string, key: string, evidence: string): Promise<SlashResult | undefined> {
  // the slash rate in force: governance may have changed it (docs/governance.md)
  const l = await ledgerSettings(d);
  // what the key holds: the figures of the slash that went through (this one or a repeat's first)
  const posted = async () => {
    const done = await d.ledger.posting(key);
    return done.length ? slashFigures(done) : undefined;
  };
  return retrying(
    async () => {
      const done = await posted();
      if (done) return done;
      const node = await d.nodes.get(nodeId);
      if (!node) return undefined;
      const provider = await d.accounts.get(node.providerId);
      const fromLock = (node.stakeLocked ?? 0) > 0;
      const sources = fromLock
        ? [{ bucket: 'locked' as const, amount: node.stakeLocked! }]
        : [
            { bucket: 'staked' as const, amount: provider?.staked ?? 0 },
            { bucket: 'unbonding' as const, amount: provider?.unbonding ?? 0 },
          ];
      const base = sources.reduce((s, x) => s + x.amount, 0);
      const amount = Math.floor((base * l.slashBps) / 10_000);
      if (amount <= 0) return { slashed: 0, refunded: 0 };
      const paid = new Map<string, number>();
      for (const e of await d.ledger.creditsSince(node.providerId, d.now() - l.slashWindowMs)) {
        if (e.kind !== 'charge' || e.cause.nodeId !== node.id || !e.cause.consumerId) continue;
        paid.set(e.cause.consumerId, (paid.get(e.cause.consumerId) ?? 0) + (e.cause.paid ?? e.amount));
      }
      const harmed: Harmed[] = [...paid].map(([consumerId, p]) => ({ consumerId, paid: p })).sort((a, b) => b.paid - a.paid).slice(0, MAX_HARMED);
      const p = slashPosting({ key, providerId: node.providerId, from: sources, nodeId: node.id, amount, harmed, compensationBps: l.slashCompensationBps, evidence: evidence.slice(0, 200), at: d.now() });
      // the lock is moved under the node's version; free and unbonding stake under the balance conditions
      await d.ledger.post([p], fromLock ? [d.nodes.stakeLockItem(node, node.stakeLocked! - amount)] : []);
      return posted();
    },
    // a provider that unstaked or spent between the read and the post (short funds, the lock moved): read
    // again; still moving after 5 tries, the answer is what the key holds
    { retries: 4, on: (e) => e instanceof StakeLockMovedError || e instanceof InsufficientFundsError, exhausted: posted },
  );
}

/** A node's epoch reward (net of its penalty), paid from the reward pool. False when the pool (or the provider, for a penalty) cannot cover it. */
export async function postReward(d: Deps, key: string, providerId: string, nodeId: string, reward: number, penalty: number): Promise<boolean> {
  try {
    await d.ledger.post([rewardPosting(key, providerId, nodeId, reward, penalty, d.now())]);
    return true;
  } catch (e) {
    if (e instanceof InsufficientFundsError) return false;
    throw e;
  }
}
