// Tells the control plane the node is alive, what it runs and how many GPUs are free. The period is the
// session's busy or idle period; the control plane's nextHeartbeatSeconds overrides it for as long as
// the node stays in the state (busy or idle) that answer was given for.
import type { HeartbeatResponse } from '../functions/domain/agent-protocol';
import { ApiError, isConflict, type ControlPlane } from './api';
import { backoffDelay } from './backoff';
import type { GpuTelemetry, Telemetry } from './gpu/telemetry';
import type { Logger } from './log';

export interface HeartbeatDeps {
  api: ControlPlane;
  log: Logger;
  periods: () => { busySeconds: number; idleSeconds: number };
  running: () => string[];
  /** the agent's start counter, read with `running` (Agent.startSeq) */
  startSeq?: () => number;
  freeGpus: () => number;
  onStale: (attemptIds: string[]) => void;
  onCancel: (attemptIds: string[]) => void;
  /** the lease ran out while attempts run: stop them before the control plane re-places them */
  onLeaseLost?: () => void;
  /**
   * a 409 says the control plane took this node out of service (the reaper wrote it off, it was
   * deregistered or quarantined): the attempts this beat reported are being re-placed, so kill them at once
   * (not the ones started after the beat was sent), then open a new session
   */
  onRejected?: (reported: string[]) => Promise<unknown>;
  /** per-GPU figures for the beat (agent/gpu/telemetry.ts: bounded wait, never rejects); none when absent */
  gpuTelemetry?: () => Promise<GpuTelemetry[] | undefined>;
  /** the images the node holds (agent/runtime/images.ts: bounded wait, never rejects); not sent when absent */
  images?: () => Promise<string[] | undefined>;
  /** each service replica the node runs and whether its readiness probe passes now (agent/service/replicas.ts) */
  services?: () => { attemptId: string; ready: boolean }[];
  /** the images the node's provider wants kept pulled, from each answer that carries them */
  onWarmImages?: (refs: string[]) => void;
}

/** how soon a throttled (429) heartbeat is tried again */
export const THROTTLED_RETRY_MS = 1_000;

export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private again = false;
  private stopped = false;
  private draining = false;
  /** a node fault (Agent): every beat carries it until the agent restarts */
  private faulted?: string;
  private failures = 0;
  /** the last beat was answered 429: throttled beats are retried every second (THROTTLED_RETRY_MS) */
  private throttled = false;
  private override?: { seconds: number; busy: boolean };
  /** until when the control plane will not write this node off (epoch ms, with a safety margin) */
  private leaseUntil = Infinity;
  /** when the request whose answer set `leaseUntil` was sent */
  private leaseSentAt = -Infinity;
  private watchdog?: NodeJS.Timeout;

  constructor(private readonly deps: HeartbeatDeps) {}

  start(): void {
    this.schedule();
    this.watchdog = setInterval(() => this.checkLease(), 250);
    this.watchdog.unref();
  }

  /** Records a lease granted by an answer to a request sent at `sentAt` (heartbeat, start or session). */
  noteLease(sentAt: number, leaseSeconds: number | undefined): void {
    if (leaseSeconds === undefined) return;
    // Answers arrive out of order (a /start held up behind later heartbeats): one to a request sent before
    // the request whose lease we hold was computed from an older deadline. Taken, it cut the lease short,
    // the agent killed attempts the control plane still counted on and their jobs ran twice.
    if (sentAt < this.leaseSentAt) return;
    this.leaseSentAt = sentAt;
    // half a busy period of margin: the reaper's own period and clock skew between calls eat into it
    const margin = Math.max(500, (this.deps.periods().busySeconds * 1000) / 2);
    this.leaseUntil = sentAt + leaseSeconds * 1000 - margin;
  }

  private checkLease(): void {
    if (this.stopped || this.deps.running().length === 0) return;
    const left = this.leaseUntil - Date.now();
    // The next beat is due a period after the last answer, while the lease counts from the last request:
    // with slow answers (a loaded host or control plane) it would run out before that beat. Renew early
    // instead of killing work the control plane still counts on (and running it again elsewhere).
    if (left > 0 && left <= this.deps.periods().busySeconds * 1000 && !this.inFlight) void this.beatNow();
    if (left >= 0) return;
    this.deps.log.warn('lease expired without renewal: stopping running attempts', { running: this.deps.running() });
    this.leaseUntil = Infinity;
    this.deps.onLeaseLost?.();
    void this.beatNow();
  }

  /** Beats now (coalescing with one in flight); resolves when that beat is done. */
  beatNow(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    clearTimeout(this.timer);
    this.inFlight = this.beat().finally(() => {
      this.inFlight = undefined;
      if (this.again) {
        this.again = false;
        void this.beatNow();
      } else this.schedule();
    });
    return this.inFlight;
  }

  /** From now on every beat says `draining`, so the control plane stops placing work here. */
  drain(): Promise<void> {
    this.draining = true;
    return this.beatNow();
  }

  /** From now on every beat carries `fault`, so the control plane takes the node out of service and shows why. */
  async fault(fault: string): Promise<void> {
    this.faulted = fault;
    // a beat already in flight was built without it: the one after it carries it
    const pending = this.inFlight;
    await this.beatNow();
    if (pending) await this.beatNow();
  }

  /** Restarts the wait after the node turned busy or idle: start and finish just told the control plane we live. */
  reschedule(): void {
    if (!this.inFlight) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
  }

  private async beat(): Promise<void> {
    const [gpus, images] = await Promise.all([this.deps.gpuTelemetry?.().catch(() => undefined), this.deps.images?.().catch(() => undefined)]);
    const telemetry: Telemetry = { agentRssMb: Math.round(process.memoryUsage.rss() / 1048576), ...(gpus ? { gpus } : {}) };
    const running = this.deps.running();
    const startSeq = this.deps.startSeq?.();
    const services = this.deps.services?.() ?? [];
    const sentAt = Date.now();
    try {
      const res = await this.deps.api.heartbeat({
        running,
        ...(startSeq === undefined ? {} : { startSeq }),
        freeGpus: this.deps.freeGpus(),
        ...(this.draining ? { draining: true } : {}),
        ...(this.faulted ? { fault: this.faulted.slice(0, 500) } : {}),
        telemetry,
        ...(images ? { images } : {}),
        ...(services.length > 0 ? { services } : {}),
      });
      if (this.failures > 0) this.deps.log.info('heartbeat recovered', { failures: this.failures });
      this.failures = 0;
      this.throttled = false;
      this.noteLease(sentAt, res.leaseSeconds);
      this.apply(res, running.length > 0);
    } catch (err) {
      this.throttled = err instanceof ApiError && err.status === 429;
      if (++this.failures === 1) this.deps.log.warn('heartbeat failing; retrying', { err });
      if (isConflict(err)) await this.deps.onRejected?.(running).catch((e) => this.deps.log.warn('new session failed', { err: e }));
    }
  }

  private apply(res: HeartbeatResponse, busy: boolean): void {
    this.override = res.nextHeartbeatSeconds > 0 ? { seconds: res.nextHeartbeatSeconds, busy } : undefined;
    if (res.stale.length > 0) this.deps.onStale(res.stale);
    if (res.cancel.length > 0) this.deps.onCancel(res.cancel);
    if (res.warmImages?.length) this.deps.onWarmImages?.(res.warmImages);
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.beatNow(), this.periodMs());
  }

  private periodMs(): number {
    const busy = this.deps.running().length > 0;
    const { busySeconds, idleSeconds } = this.deps.periods();
    const seconds = this.override && this.override.busy === busy ? this.override.seconds : busy ? busySeconds : idleSeconds;
    const period = Math.max(1, seconds) * 1000;
    // After a failure retry sooner than a full idle period, or a blip could read as a lost node. A 429 is
    // retried every second: on AWS the node shares its agent usage key with 1/64 of the nodes, and a
    // flooding node there is out-asked only by trying often (docs/api.md, "the sharing of an agent key");
    // one beat a second is far below any key's rate, so honest retries cannot feed the flood.
    if (this.failures === 0) return period;
    return Math.min(period, this.throttled ? THROTTLED_RETRY_MS + Math.floor(Math.random() * 250) : backoffDelay(this.failures));
  }
}
