// Service settings (docs/services.md): the billing period of a replica, the readiness timeouts, the
// autoscaler's cool-down, the reconciler's tick and the address services are reached at. The AWS defaults
// suit model servers (minutes to load weights); the local stack shortens them to a demo pace. Read from the
// environment by functions/settings (SERVICES_*).
import type { ReconcileSettings } from '../domain/service/reconcile';

export interface ServiceSettings extends ReconcileSettings {
  /** a replica holds and settles one period at a time (its job's maxDurationSeconds): docs/services.md, Money */
  periodSeconds: number;
  /** seconds between reconciler ticks (EventBridge: one minute on AWS) */
  tickSeconds: number;
  /** where the routing tier answers: a service's url is `${baseUrl}/s/<id>`; empty: no url shown */
  baseUrl: string;
}

export const DEFAULT_SERVICES: ServiceSettings = {
  periodSeconds: 3600,
  // vLLM or Triton loading a large model takes minutes
  startupSeconds: 600,
  unreadySeconds: 60,
  scaleDownCooldownSeconds: 300,
  tickSeconds: 60,
  baseUrl: '',
};

/** The local stack's demo pace: a 60 s period, replicas judged within seconds, a reconcile every second. */
export const localServiceSettings = (gatewayUrl: string): ServiceSettings => ({
  periodSeconds: 60,
  startupSeconds: 60,
  unreadySeconds: 10,
  scaleDownCooldownSeconds: 30,
  tickSeconds: 1,
  baseUrl: gatewayUrl.replace(/\/+$/, ''),
});

/** The settings in force: a Settings built without them (older tests) gets the AWS defaults. */
export const serviceSettings = (s: { services?: ServiceSettings }): ServiceSettings => s.services ?? DEFAULT_SERVICES;
