// A consumer's secrets (docs/data.md, Secrets): set (each set is a new version), list (names and versions,
// never values), delete. Its own function: on AWS the only one allowed to seal with the secrets key.
import { SecretNameSchema, SetSecretSchema } from '../domain/secrets/limits';
import { deleteSecret, listSecrets, setSecret } from '../usecases/secrets';
import { parseWith } from './kit/problem';
import { routeGroup, type RouteFn } from './kit/router';
import { lambdaRoot } from '../wiring/lambda-root';
import { kmsSecretCipher } from '../store/kms-cipher';

export const routes: Record<string, RouteFn> = {
  'POST /v1/secrets': async (req, d) => {
    const secret = await setSecret(d, req.caller, parseWith(SetSecretSchema, req.body));
    return { status: 201, body: { secret }, headers: { location: `/v1/secrets/${secret.name}` } };
  },
  'GET /v1/secrets': async (req, d) => ({ status: 200, body: { items: await listSecrets(d, req.caller) } }),
  'DELETE /v1/secrets/{name}': async (req, d) => {
    await deleteSecret(d, req.caller, parseWith(SecretNameSchema, req.params.name, 'name'));
    return { status: 204 };
  },
};

// this function may use the secrets key (lib/constructs/secrets-key.ts): it alone carries the KMS client
export const handler = routeGroup('secrets', routes, lambdaRoot({ secretCipher: kmsSecretCipher }));
