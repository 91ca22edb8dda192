// The readiness probe of every service replica this node runs: GET http://127.0.0.1:<hostPort><path>
// about every second, answered 2xx or 3xx within a second means ready (redirects are not followed: a 3xx
// is an answer). A flip is reported through ServiceReplicas.onChange, which makes the heartbeat go at
// once, so the routing tier's view follows the replica within about a second.
import { request } from 'node:http';
import type { Logger } from '../log';
import type { ServiceReplica, ServiceReplicas } from './replicas';

export const READINESS_INTERVAL_MS = 1_000;
export const READINESS_TIMEOUT_MS = 1_000;

/** One probe: true for a 2xx/3xx answer within `timeoutMs`; never rejects. */
export function probeReadiness(hostPort: number, path: string, timeoutMs = READINESS_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(ok);
    };
    // a fresh connection per probe (no agent): a replica that stopped accepting must read as not ready
    const req = request({ host: '127.0.0.1', port: hostPort, path, method: 'GET', agent: false, headers: { 'user-agent': 'gpupool-agent-readiness' } }, (res) => {
      res.resume();
      done((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
    });
    const timer = setTimeout(() => done(false), timeoutMs);
    req.once('error', () => done(false));
    req.end();
  });
}

export class ReadinessProber {
  private timer?: NodeJS.Timeout;
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly replicas: ServiceReplicas,
    private readonly log: Logger,
    private readonly intervalMs = READINESS_INTERVAL_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** probes every replica that has no probe in flight */
  tick(): void {
    for (const r of this.replicas.all()) if (!this.inFlight.has(r.attemptId)) void this.probe(r);
  }

  private async probe(r: ServiceReplica): Promise<void> {
    this.inFlight.add(r.attemptId);
    try {
      const ready = await probeReadiness(r.hostPort, r.readinessPath);
      if (ready !== r.ready) this.log.info(ready ? 'service replica ready' : 'service replica not ready', { attemptId: r.attemptId, serviceId: r.serviceId });
      this.replicas.setReady(r.attemptId, ready);
    } finally {
      this.inFlight.delete(r.attemptId);
    }
  }
}
