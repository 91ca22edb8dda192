// What the API shows of a service (docs/services.md, API): never its token's hash, never a secret's value
// (a secret env value shows as {"secret": "<name>"}, as on a job), nor the routing tier's load map.
import type { Job } from '../model';
import type { ReplicaView, Service } from './model';
import { isReady } from './reconcile';

export function replicaView(j: Job): ReplicaView {
  const a = j.liveAttemptId ? j.attempts.find((x) => x.id === j.liveAttemptId) : undefined;
  return {
    id: j.id,
    nodeId: a?.nodeId ?? null,
    status: j.status,
    ready: isReady(j),
    endpoint: a?.endpoint ?? null,
    generation: j.service?.generation ?? 0,
  };
}

/** `replicas` only where they were read (GET one); a list shows the service without them. */
export function serviceView(s: Service, baseUrl: string, replicas?: Job[]) {
  const { secretEnv, ...spec } = s.spec;
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    statusReason: s.statusReason ?? null,
    url: baseUrl ? `${baseUrl}/s/${s.id}` : null,
    ...(replicas ? { replicas: replicas.map(replicaView) } : {}),
    replicasWanted: { min: s.replicas.min, max: s.replicas.max, desired: s.desired },
    targetInflight: s.targetInflight,
    generation: s.generation,
    spec: { ...spec, env: { ...spec.env, ...Object.fromEntries(Object.entries(secretEnv ?? {}).map(([k, n]) => [k, { secret: n }])) } },
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}
export type ServiceView = ReturnType<typeof serviceView>;
