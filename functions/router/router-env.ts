// The routing tier's process settings (bin/gpupool-router.ts), from its environment. On AWS the CDK
// construct (lib/constructs/service-router.ts) sets these on the Fargate task; nothing here is secret:
// the signing seed is read from Secrets Manager by ARN at start.
import { hostname } from 'node:os';
import { parseLatLon, type LatLon } from './replica-order';
import type { RouteTableNames } from './route-table';

export interface RouterProcessConfig {
  tables: RouteTableNames;
  signingSecretArn: string;
  port: number;
  location?: LatLon;
  servicesDomain?: string;
  routerId: string;
  /** the services' wake queue: a service loaded beyond its replicas is reconciled at once (docs/services.md, Scaling) */
  wakeQueueUrl?: string;
}

/** The names the process reads; the construct sets exactly these. */
export const ROUTER_ENV = {
  services: 'TABLE_SERVICES',
  jobs: 'TABLE_JOBS',
  nodes: 'TABLE_NODES',
  keys: 'TABLE_KEYS',
  signingSecretArn: 'CHECKER_SIGNING_SECRET_ARN',
  location: 'ROUTER_LOCATION',
  servicesDomain: 'SERVICES_DOMAIN',
  port: 'PORT',
  routerId: 'ROUTER_ID',
  wakeQueueUrl: 'SERVICES_WAKE_QUEUE_URL',
} as const;

export function routerConfigFromEnv(env: NodeJS.ProcessEnv): RouterProcessConfig {
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`missing env ${k}`);
    return v;
  };
  const port = Number(env[ROUTER_ENV.port] ?? 8080);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${ROUTER_ENV.port} must be a port number`);
  const locationText = env[ROUTER_ENV.location];
  const location = parseLatLon(locationText);
  if (locationText && !location) throw new Error(`${ROUTER_ENV.location} must be "lat,lon"`);
  return {
    tables: { services: need(ROUTER_ENV.services), jobs: need(ROUTER_ENV.jobs), nodes: need(ROUTER_ENV.nodes), keys: need(ROUTER_ENV.keys) },
    signingSecretArn: need(ROUTER_ENV.signingSecretArn),
    port,
    ...(location ? { location } : {}),
    ...(env[ROUTER_ENV.servicesDomain] ? { servicesDomain: env[ROUTER_ENV.servicesDomain] } : {}),
    // each task its own entry in a service's `load` map: the autoscaler sums them
    routerId: env[ROUTER_ENV.routerId] || hostname(),
    ...(env[ROUTER_ENV.wakeQueueUrl] ? { wakeQueueUrl: env[ROUTER_ENV.wakeQueueUrl] } : {}),
  };
}
