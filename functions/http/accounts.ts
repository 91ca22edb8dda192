// Accounts, keys, balances and the ledger.
import { CreateAccountSchema, IdSchema, ListQuerySchema, MintSchema, StakeSchema } from '../domain/schemas';
import { createAccount, getAccount, issueKey, listKeys, revokeKey } from '../usecases/accounts';
import { AccountLimitsPatchSchema } from '../domain/account-limits';
import { getAccountLimits, setAccountLimits } from '../usecases/account-limits';
import { balance, mint, requestAudit, stake, statement, unstake } from '../usecases/ledger';
import { activateStakedNodes } from '../usecases/nodes';
import { parseWith } from './kit/problem';
import { routeGroup, type RouteFn } from './kit/router';
import { lambdaRoot } from '../wiring/lambda-root';
import { webhookSecretRoutes } from './webhook-secret';

export const routes: Record<string, RouteFn> = {
  'POST /v1/accounts': async (req, d) => {
    const r = await createAccount(d, req.caller, parseWith(CreateAccountSchema, req.body));
    return { status: 201, body: r };
  },
  'GET /v1/accounts/{id}': async (req, d) => ({ status: 200, body: await getAccount(d, req.caller, parseWith(IdSchema, req.params.id, 'id')) }),
  'POST /v1/accounts/{id}/keys': async (req, d) => ({ status: 201, body: await issueKey(d, req.caller, parseWith(IdSchema, req.params.id, 'id')) }),
  'GET /v1/accounts/{id}/keys': async (req, d) => ({ status: 200, body: { items: await listKeys(d, req.caller, parseWith(IdSchema, req.params.id, 'id')), nextCursor: null } }),
  'DELETE /v1/keys/{keyId}': async (req, d) => {
    await revokeKey(d, req.caller, parseWith(IdSchema, req.params.keyId, 'keyId'));
    return { status: 204 };
  },
  'POST /v1/accounts/{id}/credits': async (req, d) => {
    const body = parseWith(MintSchema, req.body);
    const a = await mint(d, req.caller, parseWith(IdSchema, req.params.id, 'id'), body.amount, body.memo);
    return { status: 201, body: { accountId: a.id, available: a.available, held: a.held, staked: a.staked + (a.locked ?? 0) } };
  },
  'GET /v1/accounts/{id}/limits': async (req, d) => ({ status: 200, body: await getAccountLimits(d, req.caller, parseWith(IdSchema, req.params.id, 'id')) }),
  'PATCH /v1/accounts/{id}/limits': async (req, d) => {
    const id = parseWith(IdSchema, req.params.id, 'id');
    return { status: 200, body: await setAccountLimits(d, req.caller, id, parseWith(AccountLimitsPatchSchema, req.body)) };
  },
  'GET /v1/balance': async (req, d) => {
    const a = await getAccount(d, req.caller, req.caller.accountId);
    // who the key speaks for, so a client can tell which account and role it holds
    return { status: 200, body: { accountId: a.id, role: a.role, ...(await balance(d, req.caller, a)) } };
  },
  'GET /v1/accounts/{id}/entries': async (req, d) => {
    const q = parseWith(ListQuerySchema, req.query, 'query');
    return { status: 200, body: await statement(d, req.caller, parseWith(IdSchema, req.params.id, 'id'), q.limit, q.cursor) };
  },
  'GET /v1/ledger/audit': async (req, d) => ({ status: 200, body: await requestAudit(d, req.caller) }),
  'POST /v1/stake': async (req, d) => {
    const body = await stake(d, req.caller, parseWith(StakeSchema, req.body).amount);
    // nodes that waited for this stake come online at once
    await activateStakedNodes(d, req.caller.accountId);
    return { status: 200, body };
  },
  'POST /v1/unstake': async (req, d) => ({ status: 200, body: await unstake(d, req.caller, parseWith(StakeSchema, req.body).amount) }),
  ...webhookSecretRoutes,
};

export const handler = routeGroup('accounts', routes, lambdaRoot());
