// Accounts, keys and balances.
import { CreateAccountSchema, IdSchema, MintSchema } from '../domain/schemas';
import { createAccount, getAccount, issueKey, listKeys, mint, revokeKey } from '../usecases/accounts';
import { parseWith } from './kit/problem';
import { routeGroup, type RouteFn } from './kit/router';
import { webhookSecretRoutes } from './webhook-secret';

const balance = (a: { available: number; held: number; staked: number }) => ({ available: a.available, held: a.held, staked: a.staked });

const routes: Record<string, RouteFn> = {
  'POST /v1/accounts': async (req, d) => {
    const r = await createAccount(d, parseWith(CreateAccountSchema, req.body));
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
    const a = await mint(d, parseWith(IdSchema, req.params.id, 'id'), body.amount);
    return { status: 201, body: { accountId: a.id, ...balance(a) } };
  },
  'GET /v1/balance': async (req, d) => {
    const a = await getAccount(d, req.caller, req.caller.accountId);
    // who the key speaks for, so a client can tell which account and role it holds
    return { status: 200, body: { accountId: a.id, role: a.role, ...balance(a) } };
  },
  ...webhookSecretRoutes,
};

export const handler = routeGroup('accounts', routes);
