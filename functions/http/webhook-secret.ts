// The account's webhook signing secret (docs/webhooks.md), part of the accounts route group: read (created
// on first need) and rotate. Admin or the account itself; another account's is "not found".
import { IdSchema } from '../domain/schemas';
import { getWebhookSecret, rotateWebhookSecret } from '../usecases/webhooks';
import { parseWith } from './kit/problem';
import type { RouteFn } from './kit/router';

export const webhookSecretRoutes: Record<string, RouteFn> = {
  'GET /v1/accounts/{id}/webhook-secret': async (req, d) => ({ status: 200, body: await getWebhookSecret(d, req.caller, parseWith(IdSchema, req.params.id, 'id')) }),
  'POST /v1/accounts/{id}/webhook-secret': async (req, d) => ({ status: 200, body: await rotateWebhookSecret(d, req.caller, parseWith(IdSchema, req.params.id, 'id')) }),
};
