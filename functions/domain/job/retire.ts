// A service retiring one of its replicas (docs/services.md): the consumer's cancel transition, told apart
// by its reason. QUEUED and ASSIGNED replicas end at once REPLICA_RETIRED; a RUNNING one is asked to stop
// and ends REPLICA_RETIRED when its agent reports back (or the reaper forces it): `cancelReason` carries
// the reason to that end (transitions.ts finish, forceCancel).
import type { Job } from '../model';
import { cancel } from './transitions';
import type { Transition } from './transition-types';

export function retire(job: Job, now: number): Transition {
  const t = cancel(job, now);
  // already cancelled, or already asked to stop: nothing to relabel
  if (t.job.version === job.version) return t;
  if (t.job.status === 'CANCELLED') {
    const attempts = t.job.attempts.map((a) => (a.status === 'CANCELLED' && a.finishedAt === now && a.reason === 'CANCELLED_BY_USER' ? { ...a, reason: 'REPLICA_RETIRED' as const } : a));
    return { ...t, job: { ...t.job, reason: 'REPLICA_RETIRED', attempts } };
  }
  return { ...t, job: { ...t.job, cancelReason: 'REPLICA_RETIRED' } };
}

/** An ended placeholder for a replica id the service reserved but whose job was never created: it makes a late creation of that id fail. */
export function retiredPlaceholder(base: Job, now: number): Job {
  return { ...base, status: 'CANCELLED', reason: 'REPLICA_RETIRED', attempts: [], createdAt: now, queuedAt: now, finishedAt: now, version: 0 };
}
