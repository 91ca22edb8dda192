// Applies the reconciler's plan (functions/domain/service/reconcile.ts) to one service: the decision is
// written first, conditioned on the service item's version, and only the writer that won acts on it. New
// replica ids come from `nextReplica`, reserved by that same write, and each job is created on the
// condition that its id does not exist yet: two reconcilers at once can never create a replica twice, and
// one that stops between its write and its creations leaves ids the next pass creates (or, no longer
// wanted, settles with an ended placeholder that makes a late creation fail).
import * as z from 'zod';
import { DomainError } from '../domain/errors';
import { IdSchema } from '../domain/schemas';
import type { Caller, Job } from '../domain/model';
import { retire, retiredPlaceholder } from '../domain/job/retire';
import { planChanges, reconcile, replicaId, type ReconcilePlan } from '../domain/service/reconcile';
import type { Service } from '../domain/service/model';
import { replicaSpec } from '../domain/service/replica-job';
import { isConditionFailure } from '../store/conditions';
import { ServiceChangedError } from '../store/services-store';
import type { Deps } from './deps';
import { applyTransition } from './effects';
import { admit, queuedJob } from './jobs';
import { tryPlace, wakePlacement } from './placement';
import { serviceSettings } from './service-settings';
import { logger } from '../observability/logger';
import { retrying } from './retry';

/** rounds of read, decide, conditional write before a pass gives up (another writer kept winning) */
const SAVE_TRIES = 5;

/** The account a service's replicas are created for, as a submit's caller. */
const ownerOf = (svc: Service): Caller => ({ accountId: svc.accountId, role: 'consumer', keyId: `service:${svc.id}` });

/** The service's replica jobs as they are now (missing ids: absent from the map). */
export async function readReplicas(d: Deps, ids: readonly string[]): Promise<Map<string, Job>> {
  const jobs = await Promise.all(ids.map((id) => d.jobs.get(id)));
  return new Map(jobs.filter((j): j is Job => !!j).map((j) => [j.id, j]));
}

/** The live replicas whose node is draining (its provider's maintenance, its agent's SIGTERM): replaced before they go. */
async function onDrainingNodes(d: Deps, jobs: ReadonlyMap<string, Job>): Promise<Set<string>> {
  const live = [...jobs.values()].filter((j) => (j.status === 'RUNNING' || j.status === 'ASSIGNED') && j.nodeId && !j.cancelRequested);
  const nodeIds = [...new Set(live.map((j) => j.nodeId!))];
  const nodes = await Promise.all(nodeIds.map((id) => d.nodes.get(id)));
  const draining = new Set(nodes.filter((n) => n?.status === 'DRAINING').map((n) => n!.id));
  return new Set(live.filter((j) => draining.has(j.nodeId!)).map((j) => j.id));
}

/**
 * After node `nodeId` began to drain: the services with a replica on it reconcile now (a replacement
 * starts at once rather than at the next tick). A failed pass is left to the tick.
 */
export async function reconcileServicesOn(d: Deps, nodeId: string): Promise<void> {
  const ids = new Set((await d.jobs.liveOnNode(nodeId)).flatMap((j) => (j.service ? [j.service.id] : [])));
  for (const id of ids) {
    await reconcileService(d, id).catch((e) => logger.warn('service reconcile after a drain failed', { serviceId: id, nodeId, error: e }));
  }
}

/** The service after the plan: its fields, the ids dropped and reserved, the next version. */
function planned(svc: Service, p: ReconcilePlan, now: number): Service {
  const { statusReason: _r, failures: _f, scaledAt: _s, backoffUntil: _b, ...rest } = svc;
  const reserved = Array.from({ length: p.create }, (_, k) => replicaId(svc.id, svc.nextReplica + k));
  return {
    ...rest,
    ...p.next,
    replicaIds: [...svc.replicaIds.filter((id) => !p.drop.includes(id)), ...reserved],
    nextReplica: svc.nextReplica + p.create,
    updatedAt: now,
    version: svc.version + 1,
  };
}

/**
 * One reconcile pass over the service `id` (`read`: the service as the caller just wrote it, saving a
 * read). Returns the service as it stands after the pass; undefined when there is none.
 */
export async function reconcileService(d: Deps, id: string, read?: Service): Promise<Service | undefined> {
  const first = read ?? (await d.services.get(id));
  // read, decide and write until this pass's write wins; only the winner acts on its plan
  const won = await retrying(
    async (attempt) => {
      const svc = attempt === 0 ? first : await d.services.get(id);
      if (!svc || svc.status === 'DELETED') return { svc };
      const jobs = await readReplicas(d, svc.replicaIds);
      const leaving = await onDrainingNodes(d, jobs);
      const now = d.now();
      const plan = reconcile(svc, jobs, now, serviceSettings(d.settings), leaving);
      if (!planChanges(svc, plan)) return { svc };
      const next = planned(svc, plan, now);
      return { svc: await d.services.save(svc, next), plan, jobs, reserved: next.replicaIds.slice(next.replicaIds.length - plan.create) };
    },
    { retries: SAVE_TRIES - 1, on: (e) => e instanceof ServiceChangedError },
  );
  if (won.plan) await act(d, won.svc, won.plan, won.jobs, won.reserved);
  return won.svc;
}

/** What the winning write decided: create the reserved (and missing) replicas, retire the unwanted. */
async function act(d: Deps, svc: Service, plan: ReconcilePlan, jobs: Map<string, Job>, reserved: string[]): Promise<void> {
  let refusal: string | undefined;
  for (const id of [...plan.materialize, ...reserved]) {
    refusal ??= await createReplica(d, svc, id);
  }
  for (const r of plan.retire) await retireReplica(d, svc, r.id, jobs.get(r.id));
  if (plan.retire.length > 0) await wakePlacement(d);
  // the account's limits refused a replica: say so on the service (the id stays; the next pass tries again)
  if (refusal) {
    await d.services.save(svc, { ...svc, statusReason: `a replica was not admitted: ${refusal}`, updatedAt: d.now(), version: svc.version + 1 }).catch((e) => {
      if (!(e instanceof ServiceChangedError)) throw e;
    });
  }
}

/**
 * Creates replica `id` as a submit would: admitted under the account's limits (all its counters in the
 * creating transaction), then matched inline. Returns the refusal's words when the limits refuse it.
 */
async function createReplica(d: Deps, svc: Service, id: string): Promise<string | undefined> {
  const now = d.now();
  const job = { ...queuedJob(replicaSpec(svc, serviceSettings(d.settings).periodSeconds), ownerOf(svc), id, now), service: replicaSpec(svc, 0).service };
  let acct;
  try {
    acct = await admit(d, [job]);
  } catch (e) {
    // another reconciler created it (or a placeholder settled it) first
    if (isConditionFailure(e)) return undefined;
    if (e instanceof DomainError) return e.message;
    throw e;
  }
  const placed = await tryPlace(d, job, undefined, acct);
  if (placed.status === 'QUEUED') await d.jobs.accounts.note(svc.accountId);
  return undefined;
}

/** Retires replica `id`: a cancel with reason REPLICA_RETIRED; a job never created gets an ended placeholder. */
async function retireReplica(d: Deps, svc: Service, id: string, read: Job | undefined): Promise<void> {
  let job = read;
  if (!job) {
    const base = { ...queuedJob(replicaSpec(svc, serviceSettings(d.settings).periodSeconds), ownerOf(svc), id, d.now()), service: replicaSpec(svc, 0).service };
    const { limitsCounted: _l, ...uncounted } = base;
    try {
      await d.jobs.create(retiredPlaceholder(uncounted, d.now()), { marker: false });
      return;
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      job = await d.jobs.get(id); // created meanwhile: retire it as it is
      if (!job) return;
    }
  }
  await applyTransition(d, job, (j) => retire(j, d.now()), { retries: 4 }).catch((e) => {
    if (!(e instanceof DomainError)) throw e; // already ended
  });
}

/** The scheduled tick: one pass over every service not yet DELETED; returns how many it read and how many failed. */
export async function reconcileAll(d: Deps): Promise<{ services: number; failed: number }> {
  const ids = await d.services.activeIds();
  let failed = 0;
  let next = 0;
  // a few services at a time: one pass is a handful of reads and at most a few writes
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      await reconcileService(d, id).catch((e) => {
        failed++;
        logger.warn('service reconcile failed', { serviceId: id, error: e });
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(TICK_CONCURRENCY, ids.length) }, worker));
  return { services: ids.length, failed };
}

/** services one tick reconciles at once */
const TICK_CONCURRENCY = 8;

/** A wake from a routing tier: `{"serviceId": "…"}` (functions/router/service-router.ts wake). */
export const WakeMessageSchema = z.strictObject({ serviceId: IdSchema });

/**
 * Reconciles the services named by wake messages, each once however often it is named. A message that is
 * not a wake is dropped (only the routing tier may send, but a queue is no place to trust a body).
 */
export async function reconcileWoken(d: Deps, bodies: readonly string[]): Promise<{ woken: number; ignored: number; failed: number }> {
  const ids = new Set<string>();
  let ignored = 0;
  for (const b of bodies) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(b);
    } catch {
      parsed = undefined;
    }
    const m = WakeMessageSchema.safeParse(parsed);
    if (m.success) ids.add(m.data.serviceId);
    else ignored++;
  }
  let failed = 0;
  for (const id of ids) {
    await reconcileService(d, id).catch((e) => {
      failed++;
      logger.warn('woken service reconcile failed', { serviceId: id, error: e });
    });
  }
  return { woken: ids.size, ignored, failed };
}
