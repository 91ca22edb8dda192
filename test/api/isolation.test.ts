// Tenant isolation, table-driven, on the local stack with one real agent: every route of ROUTES × every
// role (admin, consumer, provider, node, no key) × own / another tenant's object → the status the
// design gives. Another tenant's job, node, key or account answers 404 exactly as a missing one does;
// a wrong role is 403; no key is 401. A node key acts only on attempts assigned to its own node.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEADLINES } from '../../functions/domain/job/deadlines';
import { ROUTES } from '../../functions/http/routes';
import { DEFAULT_CONSOLE_DIR } from '../../lib/local/console-static';
import { newId } from '../../functions/usecases/deps';
import { client, eventually, type ApiResponse } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';
import { expectProblem, manualAgent, nodeBody, problemOf, registerNode, type Api } from './helpers';

type Role = 'admin' | 'consumer' | 'provider' | 'node' | 'none';
type Ownership = 'own' | 'other';
type Kind = 'account' | 'key' | 'job' | 'node' | 'attempt' | 'secret' | 'license' | 'proposal' | 'service' | 'file';
const ROLES: Role[] = ['admin', 'consumer', 'provider', 'node', 'none'];
const OWNERSHIPS: Ownership[] = ['own', 'other'];

/** What a cell acts on: the path's {id}/{keyId}, and for agent routes the attempt in the body. */
interface Target {
  id: string;
  attemptId?: string;
  cleanup?: () => Promise<void>;
}

interface Row {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** who may call it, from the design (DESIGN.md, docs/api.md) — not read from ROUTES */
  who: readonly Role[] | 'public';
  ok: number;
  object?: Kind;
  /** success destroys the object: such cells get a fresh one */
  destructive?: boolean;
  /** the object belongs to nobody in particular (a proposal): every tenant acts on it alike */
  shared?: boolean;
  body?: (t: Target) => unknown;
  /** extra checks of a successful answer */
  check?: (r: ApiResponse, c: { role: Role; ownership: Ownership; target?: Target }) => void;
}

const USERS: readonly Role[] = ['admin', 'consumer', 'provider'];
/** an Ed25519 public key (base64 SPKI) for the checker registration row */
const MATRIX_CHECKER_KEY = 'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=';
const UNPLACEABLE = { command: ['true'], resources: { gpus: 1, gpuModels: ['B200'] } };
const IDLE_SERVICE = { name: 'matrix', command: ['serve'], port: 8000, replicas: { min: 0, max: 1 }, resources: { gpus: 1, gpuModels: ['B200'] } };

let pool: Pool;
let url: string;
let C1: Awaited<ReturnType<Pool['newAccount']>>;
let C2: typeof C1;
let P1: typeof C1;
let P2: typeof C1;
let adminId: string;
let N1: { id: string; key: string };
let N2: { id: string; key: string };
let m1: Awaited<ReturnType<typeof manualAgent>>;
let m2: Awaited<ReturnType<typeof manualAgent>>;
let NA: string;
let J1: { id: string; attemptId: string };
let J2: { id: string; attemptId: string };
let JB: { id: string; attemptId: string };
const stableKey: Record<string, string> = {};
/** a checker license each consumer and provider account holds (so it may propose and vote), by account */
const stableLicense: Record<string, string> = {};
let stableProposal = '';
/** the fee in force: proposals of the matrix change nothing if they pass */
let feeBps = 0;
const stableKeyValue: Record<string, string> = {};
let matrixCells = 0;
let matrixRequests = 0;

const actor = (role: Role): { api: Api; accountId?: string } =>
  ({
    admin: { api: pool.admin, accountId: adminId },
    consumer: { api: C1.api, accountId: C1.id },
    provider: { api: P1.api, accountId: P1.id },
    node: { api: m1.api, accountId: P1.id },
    none: { api: client(url) },
  })[role];

/** the other tenant of the caller's kind */
const otherAccount = (role: Role) => (role === 'provider' || role === 'node' ? P2 : C2);

async function submitOn(consumer: Api, gpuModels: string[]): Promise<{ id: string; attemptId: string }> {
  const r = await consumer.post('/v1/jobs', { command: ['sleep', '60'], resources: { gpus: 1, gpuModels } });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body.job.status, JSON.stringify(r.body.job)).toBe('ASSIGNED');
  return { id: r.body.job.id, attemptId: r.body.job.attempts.at(-1).id };
}

async function mintLicense(accountId: string): Promise<string> {
  const r = await pool.admin.post('/v1/licenses', { account: accountId, count: 1 });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.items[0].id;
}

async function propose(by: Api): Promise<string> {
  const r = await by.post('/v1/proposals', { title: 'matrix', changes: { feeBps }, votingSeconds: 3600 });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.proposal.id;
}

async function issueKey(accountId: string): Promise<{ keyId: string; apiKey: string }> {
  const r = await pool.admin.post(`/v1/accounts/${accountId}/keys`);
  expect(r.status).toBe(201);
  return r.body;
}

/** The object a cell acts on; fresh (made for it) when the cell is expected to succeed on a destructive route. */
async function targetFor(row: Row, role: Role, ownership: Ownership, fresh: boolean): Promise<Target | undefined> {
  const owner = ownership === 'own' ? undefined : otherAccount(role);
  switch (row.object) {
    case undefined:
      return undefined;
    case 'account':
      return { id: owner ? owner.id : (actor(role).accountId ?? C1.id) };
    case 'key': {
      const accountId = owner ? owner.id : (actor(role).accountId ?? C1.id);
      return { id: fresh ? (await issueKey(accountId)).keyId : stableKey[accountId] };
    }
    case 'job': {
      if (!fresh) return { id: owner ? J2.id : J1.id };
      const r = await (owner ? C2 : C1).api.post('/v1/jobs', UNPLACEABLE);
      return { id: r.body.job.id };
    }
    case 'node': {
      if (!fresh) return { id: owner ? N2.id : N1.id };
      const provider = owner ? P2 : P1;
      return { id: (await registerNode(provider.api, `fresh-${newId().slice(-6)}`, 'X1')).id };
    }
    case 'license': {
      const holder = owner ? owner.id : role === 'provider' || role === 'node' ? P1.id : C1.id;
      return { id: fresh ? await mintLicense(holder) : stableLicense[holder] };
    }
    case 'proposal':
      return { id: fresh ? await propose(C1.api) : stableProposal };
    case 'secret': {
      // a secret of the acting consumer, or of the other one (same kind of name: only the owner differs)
      const id = newId();
      expect((await (owner ? C2 : C1).api.post('/v1/secrets', { name: `s_${id}`, value: 'matrix-value' })).status).toBe(201);
      return { id };
    }
    case 'file': {
      // an uploaded file's record of the acting consumer, or of the other one (the bytes need not be there)
      const r = await (owner ? C2 : C1).api.post('/v1/files', { name: 'm.csv', size: 1, sha256: 'a'.repeat(64) });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return { id: r.body.file.id };
    }
    case 'service': {
      // a service of the acting consumer, or of the other one; min 0 on no node: nothing is placed
      const r = await (owner ? C2 : C1).api.post('/v1/services', IDLE_SERVICE);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return { id: r.body.service.id };
    }
    case 'attempt': {
      if (role !== 'node') return { id: J1.id, attemptId: J1.attemptId };
      if (owner) return { id: JB.id, attemptId: JB.attemptId };
      // an attempt assigned to the caller's own node N1; started first where the route needs RUNNING
      const a = await submitOn(C1.api, ['T4']);
      if (!row.path.endsWith('/start')) expect((await m1.api.post(`/v1/agent/jobs/${a.id}/start`, { attemptId: a.attemptId })).status).toBe(200);
      return {
        ...a,
        cleanup: async () => {
          const job = (await C1.api.get(`/v1/jobs/${a.id}`)).body.job;
          if (job.status === 'RUNNING') await m1.api.post(`/v1/agent/jobs/${a.id}/finish`, { attemptId: a.attemptId, exitCode: 0, outcome: 'exited' });
          else if (job.status === 'ASSIGNED') await C1.api.del(`/v1/jobs/${a.id}`);
        },
      };
    }
  }
}

function expected(row: Row, role: Role, ownership: Ownership): number {
  if (row.who === 'public') return row.ok;
  if (role === 'none') return 401;
  if (!row.who.includes(role)) return 403;
  if (row.object && !row.shared && ownership === 'other' && role !== 'admin') return 404;
  return row.ok;
}

// a secret's name must not start with a digit (ids are ULIDs): `s_<id>`
const pathOf = (row: Row, t?: Target) => row.path.replace(/\{(id|keyId)\}/, t?.id ?? 'none').replace('{name}', `s_${t?.id ?? 'none'}`).replace('{file}', 'gpupool-checker.mjs');
const line = (n: number) => ({ seq: n, stream: 'stdout', text: `line ${n}`, ts: Date.now() });

const ROWS: Row[] = [
  { method: 'GET', path: '/v1/health', who: 'public', ok: 200 },
  { method: 'GET', path: '/v1/openapi.json', who: 'public', ok: 200 },
  { method: 'GET', path: '/install.sh', who: 'public', ok: 200 },
  { method: 'GET', path: '/agent/gpupool-agent.mjs', who: 'public', ok: 200 },
  { method: 'GET', path: '/agent/gpupool-agent.mjs.sha256', who: 'public', ok: 200 },
  { method: 'GET', path: '/cli/gpupool.mjs', who: 'public', ok: 200 },
  { method: 'GET', path: '/checker/{file}', who: 'public', ok: 200 },
  // the web console: public and the same for everyone; a checkout that has not built it answers a 404 problem
  { method: 'GET', path: '/console', who: 'public', ok: existsSync(path.join(DEFAULT_CONSOLE_DIR, 'index.html')) ? 200 : 404 },

  { method: 'POST', path: '/v1/accounts', who: ['admin'], ok: 201, body: () => ({ name: 'matrix', role: 'consumer' }) },
  {
    method: 'GET', path: '/v1/accounts/{id}', who: USERS, ok: 200, object: 'account',
    check: (r, c) => expect(r.body.id ?? r.body.account?.id).toBe(c.target!.id),
  },
  { method: 'POST', path: '/v1/accounts/{id}/keys', who: USERS, ok: 201, object: 'account' },
  {
    method: 'GET', path: '/v1/accounts/{id}/webhook-secret', who: USERS, ok: 200, object: 'account',
    check: (r, c) => expect(r.body).toMatchObject({ accountId: c.target!.id, secret: expect.stringMatching(/^whsec_/) }),
  },
  {
    method: 'POST', path: '/v1/accounts/{id}/webhook-secret', who: USERS, ok: 200, object: 'account',
    check: (r, c) => expect(r.body).toMatchObject({ accountId: c.target!.id, secret: expect.stringMatching(/^whsec_/) }),
  },
  {
    method: 'GET', path: '/v1/accounts/{id}/keys', who: USERS, ok: 200, object: 'account',
    check: (r) => {
      expect(r.body.items.length).toBeGreaterThan(0);
      for (const k of r.body.items) expect(Object.keys(k).sort()).toEqual(['createdAt', 'keyId', 'lastUsedAt', 'nodeId', 'revokedAt', 'role']);
      expect(JSON.stringify(r.body)).not.toMatch(/gp_[a-z0-9]+_|hash/);
    },
  },
  { method: 'DELETE', path: '/v1/keys/{keyId}', who: USERS, ok: 204, object: 'key', destructive: true },
  { method: 'POST', path: '/v1/accounts/{id}/credits', who: ['admin'], ok: 201, object: 'account', body: () => ({ amount: 1, memo: 'matrix' }) },
  {
    method: 'GET', path: '/v1/accounts/{id}/limits', who: USERS, ok: 200, object: 'account',
    check: (r, c) => expect(r.body).toMatchObject({ accountId: c.target!.id, limits: { maxPriority: expect.any(Number) } }),
  },
  // an admin resets a limit to the default: changes nothing the other rows see
  { method: 'PATCH', path: '/v1/accounts/{id}/limits', who: ['admin'], ok: 200, object: 'account', body: () => ({ maxPriority: null }) },
  {
    method: 'GET', path: '/v1/balance', who: USERS, ok: 200,
    check: (r, c) => expect(r.body).toMatchObject({ accountId: actor(c.role).accountId, role: c.role }),
  },
  {
    method: 'GET', path: '/v1/accounts/{id}/entries', who: USERS, ok: 200, object: 'account',
    // a statement lists only entries that touch the account asked for
    check: (r, c) =>
      expect(r.body.items.every((e: { debit: { account: string }; credit: { account: string } }) => [e.debit.account, e.credit.account].includes(c.target!.id))).toBe(true),
  },
  { method: 'GET', path: '/v1/ledger/audit', who: ['admin'], ok: 200, check: (r) => expect(r.body).toMatchObject({ ok: true, differences: [] }) },
  { method: 'POST', path: '/v1/stake', who: ['provider'], ok: 200, body: () => ({ amount: 1 }) },
  { method: 'POST', path: '/v1/unstake', who: ['provider'], ok: 200, body: () => ({ amount: 1 }) },

  { method: 'POST', path: '/v1/jobs', who: ['consumer'], ok: 202, body: () => UNPLACEABLE },
  {
    method: 'GET', path: '/v1/jobs', who: ['consumer', 'admin'], ok: 200,
    check: (r, c) => {
      const ids = r.body.items.map((j: { id: string }) => j.id);
      expect(ids).not.toContain(J2.id); // another tenant's job is never listed
      if (c.role === 'consumer') expect(ids).toContain(J1.id);
    },
  },
  { method: 'GET', path: '/v1/jobs/{id}', who: ['consumer', 'admin'], ok: 200, object: 'job', check: (r, c) => expect(r.body.job.id).toBe(c.target!.id) },
  { method: 'DELETE', path: '/v1/jobs/{id}', who: ['consumer', 'admin'], ok: 202, object: 'job', destructive: true },
  { method: 'GET', path: '/v1/jobs/{id}/logs', who: ['consumer', 'admin'], ok: 200, object: 'job' },
  // files (docs/data.md): the owner's own; another account's job lists nothing (404), admins have no view of a consumer's data
  { method: 'POST', path: '/v1/files', who: ['consumer'], ok: 201, body: () => ({ name: 'm.csv', size: 1, sha256: 'a'.repeat(64) }) },
  {
    method: 'GET', path: '/v1/files', who: ['consumer'], ok: 200,
    check: (r) => expect(r.body).toMatchObject({ items: expect.any(Array), nextCursor: expect.toBeOneOf([null, expect.any(String)]) }),
  },
  { method: 'GET', path: '/v1/files/{id}', who: ['consumer'], ok: 200, object: 'file', check: (r, c) => expect(r.body.file).toMatchObject({ id: c.target!.id, uploaded: false, downloadUrl: null }) },
  { method: 'DELETE', path: '/v1/files/{id}', who: ['consumer'], ok: 204, object: 'file', destructive: true },
  { method: 'GET', path: '/v1/jobs/{id}/outputs', who: ['consumer'], ok: 200, object: 'job', check: (r) => expect(r.body.items).toEqual([]) },
  { method: 'GET', path: '/v1/offers', who: USERS, ok: 200 },

  { method: 'POST', path: '/v1/secrets', who: ['consumer'], ok: 201, body: () => ({ name: `s_${newId()}`, value: 'matrix-value' }) },
  {
    method: 'GET', path: '/v1/secrets', who: ['consumer'], ok: 200,
    // names and versions of the caller's own secrets only, never a value
    check: (r) => expect(JSON.stringify(r.body)).not.toContain('matrix-value'),
  },
  { method: 'DELETE', path: '/v1/secrets/{name}', who: ['consumer'], ok: 204, object: 'secret', destructive: true },

  // services (docs/services.md): the owner's own; an admin may read, not change
  { method: 'POST', path: '/v1/services', who: ['consumer'], ok: 201, body: () => IDLE_SERVICE, check: (r) => expect(r.body.token).toMatch(/^gps_/) },
  { method: 'GET', path: '/v1/services', who: ['consumer', 'admin'], ok: 200 },
  { method: 'GET', path: '/v1/services/{id}', who: ['consumer', 'admin'], ok: 200, object: 'service', check: (r) => expect(JSON.stringify(r.body)).not.toMatch(/tokenSha256|gps_/) },
  { method: 'PATCH', path: '/v1/services/{id}', who: ['consumer'], ok: 200, object: 'service', body: () => ({ targetInflight: 5 }) },
  { method: 'DELETE', path: '/v1/services/{id}', who: ['consumer'], ok: 202, object: 'service', destructive: true },

  // checker licenses (docs/checkers.md, Licenses): the holder or its operator sees one; only the holder moves it
  { method: 'POST', path: '/v1/licenses', who: ['admin'], ok: 201, body: () => ({ account: C2.id, count: 1 }) },
  {
    method: 'GET', path: '/v1/licenses', who: USERS, ok: 200,
    check: (r, c) => {
      const mine = actor(c.role).accountId;
      if (c.role !== 'admin') expect(r.body.items.every((l: { owner: string; operator: string | null }) => l.owner === mine || l.operator === mine)).toBe(true);
      if (c.role === 'consumer') expect(r.body.items.map((l: { id: string }) => l.id)).toContain(stableLicense[C1.id]);
    },
  },
  { method: 'GET', path: '/v1/licenses/{id}', who: USERS, ok: 200, object: 'license' },
  { method: 'POST', path: '/v1/licenses/{id}/transfer', who: ['consumer', 'provider'], ok: 200, object: 'license', destructive: true, body: () => ({ to: C2.id }) },
  {
    method: 'POST', path: '/v1/licenses/{id}/delegate', who: ['consumer', 'provider'], ok: 200, object: 'license', destructive: true,
    body: () => ({ operator: P2.id, rewardShareBps: 1000 }),
  },
  // admins only; the matrix's licenses are active, so the admin's answer is the 409 "not suspended" (the 200 of a
  // suspended one: test/governance/license-reinstate.test.ts)
  { method: 'POST', path: '/v1/licenses/{id}/reinstate', who: ['admin'], ok: 409, object: 'license' },
  // governance (docs/governance.md): proposals and tallies are everyone's; a vote is one per account (fresh proposals)
  { method: 'POST', path: '/v1/proposals', who: ['consumer', 'provider'], ok: 201, body: () => ({ title: 'matrix', changes: { feeBps }, votingSeconds: 3600 }) },
  { method: 'GET', path: '/v1/proposals/{id}', who: USERS, ok: 200, object: 'proposal', shared: true },
  { method: 'POST', path: '/v1/proposals/{id}/votes', who: ['consumer', 'provider'], ok: 201, object: 'proposal', shared: true, destructive: true, body: () => ({ choice: 'no' }) },
  // this deployment allows no veto (GOVERNANCE_ADMIN_VETO unset): the admin is refused too, with a reason
  { method: 'POST', path: '/v1/proposals/{id}/veto', who: ['admin'], ok: 403, object: 'proposal', shared: true },
  { method: 'GET', path: '/v1/parameters', who: USERS, ok: 200, check: (r) => expect(r.body.parameters.feeBps).toBe(feeBps) },
  // the checker network (docs/checkers.md): no license of the caller is named here, so a register finds none
  // and a report is for no checker this key runs; the lists hold only the caller's own
  { method: 'POST', path: '/v1/checkers', who: ['consumer', 'provider'], ok: 404, body: () => ({ licenseId: 'lic_matrix_none', publicKey: MATRIX_CHECKER_KEY }) },
  { method: 'GET', path: '/v1/checkers', who: USERS, ok: 200, check: (r, c) => c.role !== 'admin' && expect(r.body.items).toEqual([]) },
  { method: 'GET', path: '/v1/checkers/assignments', who: ['consumer', 'provider'], ok: 200, check: (r) => expect(r.body.items).toEqual([]) },
  {
    method: 'POST', path: '/v1/checkers/reports', who: ['consumer', 'provider'], ok: 403,
    body: () => ({ report: { epoch: Math.floor(Date.now() / 15_000), licenseId: 'lic_matrix_none', nodeId: 'n', ok: false, issuedAt: 0 }, signature: 'x' }),
  },

  { method: 'POST', path: '/v1/nodes', who: ['provider'], ok: 201, body: () => nodeBody(`matrix-${newId().slice(-6)}`, 'X1') },
  {
    method: 'GET', path: '/v1/nodes', who: ['provider', 'admin'], ok: 200,
    check: (r, c) => {
      const ids = r.body.items.map((n: { id: string }) => n.id);
      if (c.role === 'provider') {
        expect(ids).toContain(N1.id);
        expect(ids).not.toContain(N2.id);
        expect(r.body.items.every((n: { providerId: string }) => n.providerId === P1.id)).toBe(true);
      }
    },
  },
  { method: 'GET', path: '/v1/nodes/{id}', who: ['provider', 'admin'], ok: 200, object: 'node', check: (r, c) => expect(r.body.node.id).toBe(c.target!.id) },
  { method: 'PATCH', path: '/v1/nodes/{id}', who: ['provider', 'admin'], ok: 200, object: 'node', body: () => ({ labels: { matrix: 'yes' } }) },
  { method: 'DELETE', path: '/v1/nodes/{id}', who: ['provider', 'admin'], ok: 200, object: 'node', destructive: true },
  { method: 'GET', path: '/v1/nodes/{id}/scores', who: ['provider', 'admin'], ok: 200, object: 'node' },
  // releasing a node that is not quarantined changes nothing
  { method: 'POST', path: '/v1/nodes/{id}/release', who: ['admin'], ok: 200, object: 'node' },
  // the operator's burst instances (none here: burst is off in this pool)
  { method: 'GET', path: '/v1/burst', who: ['admin'], ok: 200, check: (r) => expect(r.body).toEqual({ items: [], nextCursor: null }) },

  {
    method: 'POST', path: '/v1/agent/session', who: ['node'], ok: 200, body: () => ({ bootId: 'boot-n1' }),
    check: (r) => expect(r.body.nodeId).toBe(N1.id),
  },
  { method: 'POST', path: '/v1/agent/heartbeat', who: ['node'], ok: 200, body: () => ({ running: [] }) },
  { method: 'POST', path: '/v1/agent/jobs/{id}/start', who: ['node'], ok: 200, object: 'attempt', destructive: true, body: (t) => ({ attemptId: t.attemptId }) },
  { method: 'POST', path: '/v1/agent/jobs/{id}/logs', who: ['node'], ok: 200, object: 'attempt', destructive: true, body: (t) => ({ attemptId: t.attemptId, lines: [line(0)] }) },
  // output grants for the node's own live attempt only
  { method: 'POST', path: '/v1/agent/jobs/{id}/outputs', who: ['node'], ok: 200, object: 'attempt', body: (t) => ({ attemptId: t.attemptId, files: [{ path: 'o.txt', size: 1, sha256: 'a'.repeat(64) }] }) },
  // the matrix's jobs ask for no checkpoints: the owner's node is told so (400); anyone else's attempt is a 404
  { method: 'POST', path: '/v1/agent/jobs/{id}/checkpoint', who: ['node'], ok: 400, object: 'attempt', body: (t) => ({ attemptId: t.attemptId, seq: 1, files: [] }) },
  {
    method: 'POST', path: '/v1/agent/jobs/{id}/finish', who: ['node'], ok: 200, object: 'attempt', destructive: true,
    body: (t) => ({ attemptId: t.attemptId, exitCode: 0, outcome: 'exited' }),
  },
];

let bundleDir: string;
beforeAll(async () => {
  // the agent and CLI bundles the public routes serve: stand-in files, so the answer does not depend on a build
  bundleDir = mkdtempSync(path.join(tmpdir(), 'gpupool-bundle-'));
  writeFileSync(path.join(bundleDir, 'gpupool-agent.mjs'), '// agent\n');
  process.env.GPUPOOL_AGENT_BUNDLE = path.join(bundleDir, 'gpupool-agent.mjs');
  writeFileSync(path.join(bundleDir, 'gpupool.mjs'), '// cli\n');
  process.env.GPUPOOL_CLI_BUNDLE = path.join(bundleDir, 'gpupool.mjs');
  writeFileSync(path.join(bundleDir, 'gpupool-checker.mjs'), '// checker\n');
  process.env.GPUPOOL_CHECKER_BUNDLE = path.join(bundleDir, 'gpupool-checker.mjs');
  // attempts on the hand-driven nodes stay ASSIGNED as long as the test needs them
  pool = await startPool({ settings: { deadlines: { ...DEFAULT_DEADLINES, dispatchTimeoutMs: 300_000 } } });
  url = pool.stack.apiUrl;
  [C1, C2, P1, P2] = await Promise.all([pool.newAccount('consumer', 'c1'), pool.newAccount('consumer', 'c2'), pool.newAccount('provider', 'p1'), pool.newAccount('provider', 'p2')]);
  adminId = (await pool.admin.get('/v1/balance')).body.accountId;
  // the acting provider can stake and unstake a little in every cell
  expect((await pool.admin.post(`/v1/accounts/${P1.id}/credits`, { amount: 1000 })).status).toBe(201);
  expect((await P1.api.post('/v1/stake', { amount: 500 })).status).toBe(200);
  // one real agent (P1's A100 node) runs the consumers' jobs; N1 (P1) and N2 (P2) are driven by hand
  const agentStart = pool.addAgent({ name: 'iso-a100', gpus: '2xA100-80', providerKey: P1.key });
  [N1, N2] = await Promise.all([registerNode(P1.api, 'iso-n1', 'T4', 4), registerNode(P2.api, 'iso-n2', 'L4', 4)]);
  [m1, m2] = await Promise.all([manualAgent(url, N1.key, 'boot-n1'), manualAgent(url, N2.key, 'boot-n2')]);
  NA = (await agentStart).nodeId;
  for (const a of [adminId, C1.id, C2.id, P1.id, P2.id]) {
    const k = await issueKey(a);
    stableKey[a] = k.keyId;
    stableKeyValue[a] = k.apiKey;
  }
  const run = async (c: Api) => {
    const r = await c.post('/v1/jobs', { command: ['sh', '-c', 'echo isolated'], resources: { gpus: 1, gpuModels: ['A100'] } });
    const job = await eventually(async () => {
      const j = (await c.get(`/v1/jobs/${r.body.job.id}`)).body.job;
      return j.status === 'SUCCEEDED' ? j : undefined;
    }, 30_000, 'job to succeed');
    return { id: job.id, attemptId: job.attempts[0].id };
  };
  feeBps = (await C1.api.get('/v1/parameters')).body.parameters.feeBps;
  for (const a of [C1.id, C2.id, P1.id, P2.id]) stableLicense[a] = await mintLicense(a);
  stableProposal = await propose(C1.api);
  [J1, J2] = await Promise.all([run(C1.api), run(C2.api)]);
  JB = await submitOn(C2.api, ['L4']);
}, 120_000);

afterAll(async () => {
  m1?.stop();
  m2?.stop();
  await pool?.stop();
  delete process.env.GPUPOOL_AGENT_BUNDLE;
  delete process.env.GPUPOOL_CLI_BUNDLE;
  delete process.env.GPUPOOL_CHECKER_BUNDLE;
  rmSync(bundleDir, { recursive: true, force: true });
});

describe('tenant isolation matrix', () => {
  it('covers every route of ROUTES, with the roles the design gives', () => {
    const key = (r: { method: string; path: string }) => `${r.method} ${r.path}`;
    expect(ROWS.map(key).sort()).toEqual(ROUTES.map(key).sort());
    for (const row of ROWS) {
      const route = ROUTES.find((r) => key(r) === key(row))!;
      const roles = row.who === 'public' ? [] : [...row.who];
      expect([...route.roles].sort(), key(row)).toEqual(roles.sort());
    }
  });

  it('answers every route × role × own/other object as the design says', async () => {
    const failures: string[] = [];
    for (const row of ROWS) {
      for (const role of ROLES) {
        for (const ownership of OWNERSHIPS) {
          const want = expected(row, role, ownership);
          const fresh = want < 300 && !!row.destructive;
          const target = await targetFor(row, role, ownership, fresh);
          const body = row.body?.(target ?? { id: '' });
          const path = pathOf(row, target);
          const r = await actor(role).api.call(row.method, path, body);
          matrixCells++;
          matrixRequests++;
          const cell = `${row.method} ${row.path} as ${role} on ${ownership}: ${path}`;
          if (r.status !== want) failures.push(`${cell} → ${r.status}, expected ${want}: ${JSON.stringify(r.body).slice(0, 200)}`);
          else if (want >= 400) expectProblem(r, want, cell);
          else row.check?.(r, { role, ownership, target });
          // another tenant's object answers exactly as a missing one
          if (want === 404 && row.who !== 'public' && row.object) {
            const missing: Target = { id: newId(), attemptId: newId() };
            const m = await actor(role).api.call(row.method, pathOf(row, missing), row.body?.(missing));
            matrixRequests++;
            expect(problemOf(m), `${cell} vs a missing one`).toEqual(problemOf(r));
          }
          await target?.cleanup?.();
        }
      }
    }
    console.log(
      `isolation matrix: ${ROWS.length} routes × ${ROLES.length} roles × ${OWNERSHIPS.length} ownerships = ${matrixCells} cells; ${matrixRequests} requests (with the missing-object comparisons)`,
    );
    expect(failures).toEqual([]);
    expect(matrixCells).toBe(ROUTES.length * ROLES.length * OWNERSHIPS.length);
  }, 120_000);

  it('left every other tenant object as it was', async () => {
    const j2 = (await C2.api.get(`/v1/jobs/${J2.id}`)).body.job;
    expect(j2.status).toBe('SUCCEEDED');
    const jb = (await C2.api.get(`/v1/jobs/${JB.id}`)).body.job;
    expect(jb.status).toBe('ASSIGNED'); // never started by another node
    const n2 = (await P2.api.get(`/v1/nodes/${N2.id}`)).body.node;
    expect(n2.status).toBe('ONLINE'); // not deregistered by P1 (only the admin patched its labels)
    // the other tenants' stable keys still work
    for (const a of [C2.id, P2.id]) expect((await client(url, stableKeyValue[a]).get('/v1/balance')).body.accountId).toBe(a);
    // and an admin lists every node (a scan), both tenants' included
    const all = (await pool.admin.get('/v1/nodes?limit=100')).body.items.map((n: { id: string }) => n.id);
    expect(all).toEqual(expect.arrayContaining([N1.id, N2.id, NA]));
  });
});

describe('node keys', () => {
  it('act only on attempts assigned to their own node', async () => {
    const own = await submitOn(C1.api, ['T4']);
    const body = (attemptId: string) => ({
      start: { attemptId },
      logs: { attemptId, lines: [line(1)] },
      finish: { attemptId, exitCode: 0, outcome: 'exited' },
    });
    const notMine: [string, string, string][] = [
      ['N2’s attempt', JB.id, JB.attemptId],
      ['the agent node’s attempt', J1.id, J1.attemptId],
      ['its own job with another job’s attempt id', own.id, JB.attemptId],
      ['another job with its own attempt id', JB.id, own.attemptId],
    ];
    for (const [what, jobId, attemptId] of notMine) {
      for (const [op, b] of Object.entries(body(attemptId))) {
        const r = await m1.api.post(`/v1/agent/jobs/${jobId}/${op}`, b);
        expectProblem(r, 404, `N1 ${op} on ${what}`);
      }
    }
    // N2's key cannot touch N1's attempt either, and N1 can
    for (const [op, b] of Object.entries(body(own.attemptId))) expectProblem(await m2.api.post(`/v1/agent/jobs/${own.id}/${op}`, b), 404, `N2 ${op}`);
    for (const [op, b] of Object.entries(body(own.attemptId))) expect((await m1.api.post(`/v1/agent/jobs/${own.id}/${op}`, b)).status, op).toBe(200);
    expect((await C1.api.get(`/v1/jobs/${own.id}`)).body.job.status).toBe('SUCCEEDED');
    expect((await C2.api.get(`/v1/jobs/${JB.id}`)).body.job.status).toBe('ASSIGNED');
  });
});
