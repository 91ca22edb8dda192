// Consumer-facing service use cases (docs/services.md). Tenancy is checked here: another account's service
// is "not found" (an admin may read any). Every write is conditioned on the service item's version; each
// change is followed by a reconcile pass inline, so replicas start (or stop) within the request.
import { createHash, randomBytes } from 'node:crypto';
import { conflict, DomainError, notFound } from '../domain/errors';
import type { Caller } from '../domain/model';
import type { Service } from '../domain/service/model';
import { replicaSpec } from '../domain/service/replica-job';
import { MAX_SERVICES_PER_ACCOUNT, type CreateService, type PatchService } from '../domain/service/schemas';
import { serviceView, type ServiceView } from '../domain/service/view';
import { admissionError } from '../domain/account-limits';
import { loginForImage, LOGIN_FOR_IMAGE } from '../domain/schemas';
import { ServiceChangedError } from '../store/services-store';
import { accountView } from './account-limits';
import type { Deps } from './deps';
import { checkReferences } from './jobs';
import { readReplicas, reconcileService } from './service-reconcile';
import { serviceSettings } from './service-settings';
import { retrying } from './retry';

/** a service token: 192 random bits, shown once at create; only its sha256 is stored */
export const newServiceToken = () => `gps_${randomBytes(24).toString('base64url')}`;
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

const WRITE_TRIES = 5;

const view = (d: Deps, s: Service, withReplicas?: Parameters<typeof serviceView>[2]) => serviceView(s, serviceSettings(d.settings).baseUrl, withReplicas);

/** The caller's service (any service for an admin reading); another account's is not found. */
async function ownService(d: Deps, caller: Caller, id: string, read = false): Promise<Service> {
  const s = await d.services.get(id);
  if (!s || (s.accountId !== caller.accountId && !(read && caller.role === 'admin'))) throw notFound('service');
  return s;
}

export async function createService(d: Deps, caller: Caller, body: CreateService): Promise<{ service: ServiceView; token: string }> {
  const now = d.now();
  const { name, replicas, targetInflight, env, secretEnv, ...spec } = body;
  const token = newServiceToken();
  const svc: Service = {
    id: d.newId(),
    accountId: caller.accountId,
    name,
    status: 'PENDING',
    spec: { ...spec, env, ...(secretEnv ? { secretEnv } : {}) },
    generation: 1,
    replicas,
    desired: replicas.min,
    targetInflight,
    replicaIds: [],
    nextReplica: 0,
    tokenSha256: tokenHash(token),
    load: {},
    createdAt: now,
    updatedAt: now,
    version: 0,
  };
  // what a replica's submit would check, before anything is written: its secrets are the caller's own,
  // and its GPUs fit the account's limit at all
  const replica = replicaSpec(svc, serviceSettings(d.settings).periodSeconds);
  await checkReferences(d, caller, replica);
  const refusal = admissionError(replica, (await accountView(d, caller.accountId)).limits);
  if (refusal) throw refusal;
  const created = await d.services.create(svc, MAX_SERVICES_PER_ACCOUNT);
  if (created === 'limit') throw conflict(`an account holds at most ${MAX_SERVICES_PER_ACCOUNT} services not yet deleted; delete one first`);
  if (created === 'exists') throw conflict('service id taken; try again');
  const after = (await reconcileService(d, svc.id, svc)) ?? svc;
  return { service: view(d, after, [...(await readReplicas(d, after.replicaIds)).values()]), token };
}

export async function getService(d: Deps, caller: Caller, id: string): Promise<ServiceView> {
  const s = await ownService(d, caller, id, true);
  const jobs = await readReplicas(d, s.replicaIds);
  return view(d, s, s.replicaIds.map((r) => jobs.get(r)).filter((j) => !!j));
}

export async function listServices(d: Deps, caller: Caller, limit: number, cursor?: string): Promise<{ items: ServiceView[]; nextCursor?: string }> {
  const page = await d.services.listByAccount(caller.accountId, limit, cursor);
  return { items: page.items.map((s) => view(d, s)), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
}

/** The service after `patch`: a new generation when what replicas run changed; a suspended one resumes. */
function patched(s: Service, p: PatchService, now: number): Service {
  const spec = {
    ...s.spec,
    ...(p.image !== undefined ? { image: p.image } : {}),
    ...(p.command !== undefined ? { command: p.command } : {}),
  };
  if (p.env) {
    spec.env = p.env.env;
    if (p.env.secretEnv) spec.secretEnv = p.env.secretEnv;
    else delete spec.secretEnv;
  }
  const runsOtherwise = JSON.stringify([spec.image, spec.command, spec.env, spec.secretEnv ?? {}]) !== JSON.stringify([s.spec.image, s.spec.command, s.spec.env, s.spec.secretEnv ?? {}]);
  const replicas = p.replicas ?? s.replicas;
  const { failures: _f, backoffUntil: _b, statusReason: _r, ...rest } = s;
  // a new spec, or resuming a suspended service: the crash-loop count and its backoff start again
  const fresh = runsOtherwise || s.status === 'SUSPENDED';
  return {
    ...(fresh ? rest : s),
    spec,
    replicas,
    targetInflight: p.targetInflight ?? s.targetInflight,
    generation: s.generation + (runsOtherwise ? 1 : 0),
    ...(s.status === 'SUSPENDED' ? { status: 'PENDING', desired: replicas.min } : { desired: Math.min(replicas.max, Math.max(replicas.min, s.desired)) }),
    updatedAt: now,
    version: s.version + 1,
  };
}

export async function patchService(d: Deps, caller: Caller, id: string, p: PatchService): Promise<ServiceView> {
  const saved = await retrying(
    async () => {
      const s = await ownService(d, caller, id);
      if (s.status === 'DELETING' || s.status === 'DELETED') throw conflict(`service is ${s.status}`);
      const next = patched(s, p, d.now());
      if (!loginForImage({ image: next.spec.image, registryAuth: next.spec.registryAuth })) {
        throw new DomainError('validation_failed', LOGIN_FOR_IMAGE.message, [{ path: 'image', message: LOGIN_FOR_IMAGE.message }]);
      }
      if (p.env) await checkReferences(d, caller, replicaSpec(next, 0));
      return d.services.save(s, next);
    },
    // a reconcile or another PATCH wrote first: apply this change to what it wrote
    { retries: WRITE_TRIES - 1, on: isServiceChanged },
  );
  const after = (await reconcileService(d, id, saved)) ?? saved;
  return view(d, after, [...(await readReplicas(d, after.replicaIds)).values()]);
}

/** DELETE: desired 0, DELETING until every replica has ended, then DELETED (the tick finishes it). Repeating it is allowed. */
export async function deleteService(d: Deps, caller: Caller, id: string): Promise<ServiceView> {
  const saved = await retrying(
    async (): Promise<Service | { already: Service }> => {
      const s = await ownService(d, caller, id);
      if (s.status === 'DELETING' || s.status === 'DELETED') return { already: s };
      return d.services.save(s, { ...s, status: 'DELETING', desired: 0, updatedAt: d.now(), version: s.version + 1 });
    },
    { retries: WRITE_TRIES - 1, on: isServiceChanged },
  );
  if ('already' in saved) return view(d, saved.already);
  return view(d, (await reconcileService(d, id, saved)) ?? saved);
}

const isServiceChanged = (e: unknown) => e instanceof ServiceChangedError;
