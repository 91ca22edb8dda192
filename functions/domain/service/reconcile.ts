// The service reconciler's decisions (docs/services.md, Control plane). Pure: the service as read, its
// replica jobs as read, the clock and the settings in; what to create, retire and forget, and the
// service's next status out. The use case (usecases/service-reconcile.ts) applies the plan under the
// service item's version, so two reconcilers of one service never both act on one reading.
import type { Job } from '../model';
import type { Service, ServiceStatus } from './model';

export interface ReconcileSettings {
  /** a replica RUNNING but never ready for this long is replaced */
  startupSeconds: number;
  /** a replica that was ready and is not for this long is replaced */
  unreadySeconds: number;
  /** the autoscaler lowers `desired` no sooner than this after its last change */
  scaleDownCooldownSeconds: number;
}

/** a routing tier's load entry older than this is ignored (a router refreshes a non-zero entry every few seconds) */
export const LOAD_FRESH_MS = 30_000;
/** crash-loop backoff: the first failure waits this long before the next replica, doubling per failure up to the max */
export const BACKOFF_BASE_MS = 5_000;
export const BACKOFF_MAX_MS = 5 * 60_000;

export interface Retirement {
  id: string;
  why: string;
}

export interface ReconcilePlan {
  /** new replicas to create (ids from service.nextReplica on) */
  create: number;
  /** replica ids the service counts whose job does not exist yet (a reconciler reserved them, then stopped): create them */
  materialize: string[];
  /** replicas to stop (cancel, reason REPLICA_RETIRED); a missing one gets an ended placeholder */
  retire: Retirement[];
  /** ended replicas that leave replicaIds */
  drop: string[];
  /** the service's fields after this pass */
  next: Pick<Service, 'status' | 'desired'> & Partial<Pick<Service, 'statusReason' | 'failures' | 'scaledAt' | 'backoffUntil'>>;
}

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

/** The replica's index n in `<serviceId>-s<n>` (newest has the highest). */
export const replicaIndex = (id: string): number => Number(id.slice(id.lastIndexOf('-s') + 2)) || 0;
export const replicaId = (serviceId: string, n: number): string => `${serviceId}-s${n}`;

const liveAttempt = (j: Job) => (j.liveAttemptId ? j.attempts.find((a) => a.id === j.liveAttemptId) : undefined);
/** the replica takes traffic: RUNNING and its readiness probe passed on the last report */
export const isReady = (j: Job): boolean => j.status === 'RUNNING' && liveAttempt(j)?.ready === true;
/** some attempt of the replica was ready at some point (readyChangedAt is written at the first ready) */
const everReady = (j: Job): boolean => j.attempts.some((a) => a.ready === true || a.readyChangedAt !== undefined);
const outOfCredits = (j: Job): boolean =>
  (FINAL.has(j.status) && j.reason === 'INSUFFICIENT_CREDITS') || (j.status === 'QUEUED' && (j.pendingReason ?? '').startsWith('insufficient credits'));

/** Why a RUNNING replica should be replaced for its readiness, if it should; `startup` marks one never ready. */
function unhealthy(j: Job, now: number, s: ReconcileSettings): { why: string; startup: boolean } | undefined {
  const a = liveAttempt(j);
  if (j.status !== 'RUNNING' || !a || a.status !== 'RUNNING' || a.phase === 'PULLING' || a.ready === true) return undefined;
  if (a.ready === false && a.readyChangedAt !== undefined) {
    return now - a.readyChangedAt > s.unreadySeconds * 1000 ? { why: `not ready for more than ${s.unreadySeconds} s`, startup: false } : undefined;
  }
  // never ready: the startup window counts from when the process began (after the image pull)
  const began = (a.startedAt ?? a.assignedAt) + (a.pullSeconds ?? 0) * 1000;
  return now - began > s.startupSeconds * 1000 ? { why: `not ready within ${s.startupSeconds} s of starting`, startup: true } : undefined;
}

/** desired from the routing tier's fresh load: up at once, down after the cool-down. */
function autoscale(svc: Service, now: number, s: ReconcileSettings): { desired: number; scaledAt?: number } {
  const { min, max } = svc.replicas;
  const inflight = Object.values(svc.load ?? {})
    .filter((l) => l && typeof l.inflight === 'number' && now - l.at <= LOAD_FRESH_MS)
    .reduce((sum, l) => sum + Math.max(0, l.inflight), 0);
  const want = Math.min(max, Math.max(min, Math.ceil(inflight / Math.max(1, svc.targetInflight))));
  const current = Math.min(max, Math.max(min, svc.desired));
  if (want > current) return { desired: want, scaledAt: now };
  if (want < current && now - (svc.scaledAt ?? 0) >= s.scaleDownCooldownSeconds * 1000) return { desired: want, scaledAt: now };
  // a PATCH of replicas moved the bounds: the clamp is not a scaling decision
  return { desired: current, scaledAt: svc.scaledAt };
}

const backoffMs = (failures: number) => Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));

/**
 * `leaving`: replicas whose node is draining. They are replaced like an older generation's: a new replica
 * first, the leaving one retired once the new one is ready, so a provider's maintenance costs no capacity.
 */
export function reconcile(svc: Service, jobs: ReadonlyMap<string, Job>, now: number, s: ReconcileSettings, leaving: ReadonlySet<string> = new Set()): ReconcilePlan {
  const drop: string[] = [];
  const retire: Retirement[] = [];
  const materialize: string[] = [];
  let failures = svc.failures ?? 0;
  let lastFailureAt: number | undefined;
  let creditsOut: Job | undefined;

  // the replicas still counted, split by generation; retiring ones (cancel asked) count for nothing
  type R = { id: string; job?: Job; ready: boolean };
  const current: R[] = [];
  const old: R[] = [];
  for (const id of svc.replicaIds) {
    const j = jobs.get(id);
    if (!j) {
      // reserved but not yet created (or its creator stopped): counts as a new, not-ready replica
      current.push({ id, ready: false });
      materialize.push(id);
      continue;
    }
    if (outOfCredits(j)) creditsOut ??= j;
    if (FINAL.has(j.status)) {
      drop.push(id);
      // ended on its own without ever serving: a crash loop in the making
      if (j.reason !== 'REPLICA_RETIRED' && j.reason !== 'CANCELLED_BY_USER' && j.reason !== 'INSUFFICIENT_CREDITS' && !everReady(j)) {
        failures++;
        lastFailureAt = Math.max(lastFailureAt ?? 0, j.finishedAt ?? now);
      }
      continue;
    }
    if (j.cancelRequested) continue;
    const sick = unhealthy(j, now, s);
    if (sick) {
      retire.push({ id, why: `unhealthy: ${sick.why}` });
      if (sick.startup) {
        failures++;
        lastFailureAt = now;
      }
      continue;
    }
    const r = { id, job: j, ready: isReady(j) };
    ((j.service?.generation ?? svc.generation) === svc.generation && !leaving.has(id) ? current : old).push(r);
  }
  // a ready replica of the current spec proves it works: the crash-loop count starts again
  if (current.some((r) => r.ready)) failures = 0;
  const backoffUntil = failures === 0 ? undefined : lastFailureAt !== undefined ? lastFailureAt + backoffMs(failures) : svc.backoffUntil;

  const ending = svc.status === 'DELETING' || svc.status === 'DELETED';
  const suspended = !ending && (svc.status === 'SUSPENDED' || creditsOut !== undefined);
  const scaled = ending || suspended ? { desired: 0, scaledAt: svc.scaledAt } : autoscale(svc, now, s);
  const desired = scaled.desired;

  // a missing replica the service no longer wants is settled by an ended placeholder instead
  const retireR = (r: R, why: string) => {
    retire.push({ id: r.id, why });
    if (!r.job) materialize.splice(materialize.indexOf(r.id), 1);
  };

  // rolling update: old replicas not ready go at once (they lower no ready count); ready ones one for
  // each ready replica beyond `desired`, so the ready count never drops below what it was (or desired)
  const readyTotal = [...current, ...old].filter((r) => r.ready).length;
  for (const r of old.filter((x) => !x.ready)) retireR(r, leaving.has(r.id) ? 'its node is draining' : 'replaced by a newer generation');
  const oldReady = old.filter((x) => x.ready).sort((a, b) => replicaIndex(a.id) - replicaIndex(b.id));
  const oldKept = [...oldReady];
  for (let k = 0; k < Math.min(oldReady.length, Math.max(0, readyTotal - desired)); k++) {
    retireR(oldReady[k], desired === 0 ? 'not wanted' : leaving.has(oldReady[k].id) ? 'replaced: its node is draining' : 'replaced by a newer generation');
    oldKept.shift();
  }
  // scale down: not-ready first, then the newest
  const byRetireOrder = [...current].sort((a, b) => Number(a.ready) - Number(b.ready) || replicaIndex(b.id) - replicaIndex(a.id));
  const extra = Math.max(0, current.length - desired);
  for (const r of byRetireOrder.slice(0, extra)) retireR(r, ending ? 'service deleted' : suspended ? 'service suspended' : 'scaled down');
  const currentKept = current.length - extra;

  // scale up / replace: while old replicas remain, one over desired at most (surge 1)
  let create = Math.max(0, desired - currentKept);
  if (oldKept.length > 0) create = Math.min(create, Math.max(0, desired + 1 - (currentKept + oldKept.length)));
  const backingOff = backoffUntil !== undefined && now < backoffUntil;
  if (backingOff) create = 0;

  // status
  const remaining = svc.replicaIds.length - drop.length;
  const readyNow = [...current.slice(0), ...oldKept].filter((r) => r.ready && !retire.some((x) => x.id === r.id)).length;
  let status: ServiceStatus;
  let statusReason: string | undefined;
  if (ending) {
    status = remaining === 0 ? 'DELETED' : 'DELETING';
    statusReason = remaining === 0 ? undefined : `stopping ${remaining} replica${remaining === 1 ? '' : 's'}`;
  } else if (suspended) {
    status = 'SUSPENDED';
    statusReason =
      creditsOut !== undefined
        ? `suspended: the account's credits do not cover a replica's next period (replica ${creditsOut.id}); add credits, then PATCH the service to resume`
        : (svc.statusReason ?? 'suspended: out of credits');
  } else {
    status = readyNow >= desired ? 'RUNNING' : readyNow === 0 && svc.status === 'PENDING' ? 'PENDING' : 'DEGRADED';
    const waiting = current.map((r) => r.job).find((j) => j?.status === 'QUEUED' && j.pendingReason);
    statusReason =
      status === 'RUNNING'
        ? undefined
        : backingOff
          ? `${failures} replica${failures === 1 ? '' : 's'} ended without becoming ready; next try in ${Math.ceil((backoffUntil! - now) / 1000)} s`
          : waiting
            ? `waiting for a node: ${waiting.pendingReason}`
            : `${readyNow} of ${desired} replicas ready`;
  }
  return {
    create,
    materialize,
    retire,
    drop,
    next: {
      status,
      desired,
      ...(statusReason ? { statusReason } : {}),
      ...(failures > 0 ? { failures } : {}),
      ...(scaled.scaledAt !== undefined ? { scaledAt: scaled.scaledAt } : {}),
      ...(failures > 0 && backoffUntil !== undefined ? { backoffUntil } : {}),
    },
  };
}

/** Whether applying the plan changes anything (nothing to write otherwise). */
export function planChanges(svc: Service, p: ReconcilePlan): boolean {
  if (p.create || p.materialize.length || p.retire.length || p.drop.length) return true;
  const n = p.next;
  return n.status !== svc.status || n.desired !== svc.desired || n.statusReason !== svc.statusReason || (n.failures ?? 0) !== (svc.failures ?? 0) || n.scaledAt !== svc.scaledAt || n.backoffUntil !== svc.backoffUntil;
}
