// Secrets (docs/data.md, Secrets): set, list and delete by their owner; checked when a job names them;
// opened only in the answer to an agent's start of an attempt of that job (usecases/agent.ts).
import { DomainError, notFound } from '../domain/errors';
import type { Caller, Job } from '../domain/model';
import { MAX_SECRETS_PER_ACCOUNT, secretNamesOf } from '../domain/secrets/limits';
import type { SecretMeta } from '../store/secrets-store';
import type { Deps } from './deps';

/** What a start answer carries for the attempt: the values, never stored or logged by the control plane. */
export interface AttemptSecrets {
  env: Record<string, string>;
  registryAuth?: { server: string; username: string; password: string };
}

const view = (m: SecretMeta) => ({ name: m.name, version: m.version, createdAt: m.createdAt });

function cipher(d: Deps) {
  if (!d.secretCipher) throw new Error('this function holds no secrets key (SECRETS_KEY_ID unset): a deployment fault');
  return d.secretCipher;
}

/** Secrets belong to consumer accounts (the ones that submit jobs); the gateway checks the role too. */
function owner(caller: Caller): string {
  if (caller.role !== 'consumer') throw new DomainError('forbidden', 'secrets belong to consumer accounts');
  return caller.accountId;
}

export async function setSecret(d: Deps, caller: Caller, body: { name: string; value: string }) {
  const accountId = owner(caller);
  const sealed = await cipher(d).seal(body.value, { accountId, name: body.name });
  const r = await d.secrets.put(accountId, body.name, sealed, d.now(), MAX_SECRETS_PER_ACCOUNT);
  if (r === 'limit') throw new DomainError('conflict', `an account holds at most ${MAX_SECRETS_PER_ACCOUNT} secrets; delete one first`);
  return view(r);
}

export async function listSecrets(d: Deps, caller: Caller) {
  return (await d.secrets.list(owner(caller))).map(view);
}

export async function deleteSecret(d: Deps, caller: Caller, name: string): Promise<void> {
  // another account's secret of the same name is simply not this account's: not found, as if absent
  if (!(await d.secrets.delete(owner(caller), name))) throw notFound('secret');
}

/** At submit: every secret the job names must exist now (400 naming the missing ones, never a value). */
export async function checkSecretRefs(d: Deps, accountId: string, job: Pick<Job, 'secretEnv' | 'registryAuth'>): Promise<void> {
  const names = secretNamesOf(job);
  if (names.length === 0) return;
  const found = await Promise.all(names.map((n) => d.secrets.get(accountId, n)));
  const missing = names.filter((_, i) => !found[i]);
  if (missing.length === 0) return;
  const errors = [
    ...Object.entries(job.secretEnv ?? {}).filter(([, s]) => missing.includes(s)).map(([k, s]) => ({ path: `env.${k}.secret`, message: `no secret named ${s}` })),
    ...(job.registryAuth && missing.includes(job.registryAuth.passwordSecret) ? [{ path: 'registryAuth.passwordSecret', message: `no secret named ${job.registryAuth.passwordSecret}` }] : []),
  ];
  throw new DomainError('validation_failed', `the job refers to secrets this account does not hold: ${missing.join(', ')}`, errors);
}

/**
 * At an attempt's start: the job's secrets, opened (one KMS Decrypt each on AWS). `missing` names those
 * deleted since the submit: the attempt must not run.
 */
export async function openAttemptSecrets(d: Deps, job: Job): Promise<{ secrets?: AttemptSecrets; missing: string[] }> {
  const names = secretNamesOf(job);
  if (names.length === 0) return { missing: [] };
  const items = await Promise.all(names.map((n) => d.secrets.get(job.accountId, n)));
  const missing = names.filter((_, i) => !items[i]);
  if (missing.length > 0) return { missing };
  const c = cipher(d);
  const values = new Map(await Promise.all(items.map(async (it) => [it!.name, await c.open(it!.sealed, { accountId: job.accountId, name: it!.name })] as const)));
  const env = Object.fromEntries(Object.entries(job.secretEnv ?? {}).map(([k, s]) => [k, values.get(s)!]));
  const ra = job.registryAuth;
  return { secrets: { env, ...(ra ? { registryAuth: { server: ra.server, username: ra.username, password: values.get(ra.passwordSecret)! } } : {}) }, missing: [] };
}
