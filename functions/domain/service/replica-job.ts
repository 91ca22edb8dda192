// What a service's replica job is asked to run: the service's spec of its generation, as an ordinary job
// spec (docs/services.md, The model). Pure.
import type { JobSpec, ServiceLink } from '../model';
import type { Service } from './model';

/** node losses re-place a replica like any job; it never runs out of attempts while the service wants it */
export const REPLICA_MAX_ATTEMPTS = 1000;
/** a replica waits for a node as long as a job may (a week); the service decides when it is no longer wanted */
export const REPLICA_QUEUE_TTL_SECONDS = 7 * 24 * 3600;

export function replicaSpec(svc: Service, periodSeconds: number): Omit<JobSpec, 'service'> & { service: ServiceLink } {
  const s = svc.spec;
  return {
    name: svc.name,
    ...(s.image !== undefined ? { image: s.image } : {}),
    command: s.command,
    env: s.env,
    ...(s.secretEnv ? { secretEnv: s.secretEnv } : {}),
    ...(s.registryAuth ? { registryAuth: s.registryAuth } : {}),
    resources: { ...s.resources, nodes: 1 },
    ...(s.placement ? { placement: s.placement } : {}),
    ...(s.maxPricePerGpuHour !== undefined ? { maxPricePerGpuHour: s.maxPricePerGpuHour } : {}),
    // one billing period: held at placement, renewed while the service wants the replica
    maxDurationSeconds: periodSeconds,
    maxAttempts: REPLICA_MAX_ATTEMPTS,
    priority: 0,
    queueTtlSeconds: REPLICA_QUEUE_TTL_SECONDS,
    service: { id: svc.id, generation: svc.generation, port: s.port, readinessPath: s.readiness.path },
  };
}
