// The running node: which attempts it runs, what the queue and the control plane ask of them, and the
// drain at shutdown. Messages are handled one at a time (the poller awaits each), so the check for a
// duplicate dispatch and the GPU allocation cannot race each other.
import type { CancelMessage, DispatchMessage, QueueMessage, StartResponse, StopMessage } from '../functions/domain/agent-protocol';
import { isConflict, isTransient, type ControlPlane } from './api';
import { AttemptRun, type EndReason } from './attempt';
import { sleep } from './backoff';
import type { GpuAllocator } from './gpu/allocator';
import type { Logger } from './log';
import type { Disposition } from './poller';
import type { Runtime } from './runtime/types';
import type { ServiceReplicas } from './service/replicas';
import type { StateStore } from './state';

export interface AgentDeps {
  api: ControlPlane;
  runtime: Runtime;
  allocator: GpuAllocator;
  state: StateStore;
  log: Logger;
  stopGraceMs: number;
  logMaxLines: number;
  /** where a consumer's URL input may lead (agent/files/input-guard.ts) */
  inputRules?: import('../functions/domain/webhook/target').WebhookAddressRules;
  /** the service replicas this node runs: each service attempt is listed there while its workload runs */
  services?: ServiceReplicas;
  /** called when the node turns busy or idle */
  onBusyChange?: () => void;
  /** a start's answer granted a lease (the node is on the busy deadline now): see Heartbeat.noteLease */
  onLease?: (sentAt: number, leaseSeconds: number | undefined) => void;
  /** the heartbeat's side of a node fault: tells the control plane (see Heartbeat.fault) */
  reportFault?: (fault: string) => Promise<void>;
}

/** After the drain deadline stops everything, finish requests get this long before the agent exits anyway. */
const FINISH_AFTER_DRAIN_MS = 30_000;
/** How much longer than the stop grace a dispatch waits for GPUs still held by a stopping attempt (a heartbeat period or so). */
const ALLOCATE_WAIT_EXTRA_MS = 15_000;

export class Agent {
  private readonly attempts = new Map<string, { run: AttemptRun; done: Promise<void> }>();
  /** attempts whose start call is in flight: already RUNNING for the control plane, not yet in `attempts` */
  private readonly starting = new Set<string>();
  /** attempts the control plane took back while their start call was in flight: never run once it returns */
  private readonly refused = new Set<string>();
  private draining = false;
  /** why this node cannot run work (a node fault), from the first attempt that found it until the agent restarts */
  private fault?: string;
  private readonly exit = new AbortController();
  /**
   * One more for every start call, seeded from the clock so a restarted agent counts on from above its
   * predecessor. Heartbeats carry it with `running`: the control plane ends LOST only the unlisted attempts
   * whose start came before the list was taken (functions/domain/job/start-ack.ts).
   */
  private seq = Date.now();

  constructor(private readonly deps: AgentDeps) {}

  running(): string[] {
    return [...this.attempts.keys(), ...this.starting];
  }

  /** the start counter; read together with running() (nothing runs in between: one thread) */
  startSeq(): number {
    return this.seq;
  }

  freeGpus(): number {
    return this.deps.allocator.free;
  }

  onMessage(msg: QueueMessage): Promise<Disposition> {
    if (msg.type === 'dispatch') return this.dispatch(msg);
    return Promise.resolve(msg.type === 'cancel' ? this.cancel(msg) : this.halt(msg));
  }

  /** Stops the named attempts that run here; names of attempts not running here are ignored. */
  stop(attemptIds: string[], reason: EndReason): void {
    for (const id of attemptIds) this.attempts.get(id)?.run.stop(reason);
  }

  /**
   * The lease ran out without renewal: the control plane may already have written this node off and placed
   * its jobs elsewhere. Running attempts stop; one whose start is in flight is not run when its answer comes
   * (test/agent/lease-lost-starting.test.ts: run after the lease, its job ran twice).
   */
  leaseLost(): void {
    for (const id of this.starting) this.refused.add(id);
    this.stop([...this.attempts.keys()], 'lease_lost');
  }

  /**
   * The control plane took this node out of service (a stop message, or a 409 to a heartbeat or session):
   * the jobs of these attempts are already being placed elsewhere, so they are killed without a grace
   * period and nothing is reported for them. An attempt whose start is in flight is not run at all.
   */
  writtenOff(attemptIds: string[] = this.running()): void {
    if (attemptIds.length === 0) return;
    this.deps.log.warn('node taken out of service: killing its attempts at once', { attempts: attemptIds });
    for (const id of attemptIds) {
      if (this.starting.has(id)) this.refused.add(id);
      this.attempts.get(id)?.run.stop('written_off');
    }
  }

  /**
   * Lets running attempts finish until `deadlineMs` (a fresh timer: the shutdown signal has already fired),
   * then stops the rest and waits for their finish requests. `force` cuts the wait short (a second SIGTERM).
   */
  async drain(deadlineMs: number, force?: AbortSignal): Promise<void> {
    this.draining = true;
    const deadline = new AbortController();
    const abortDeadline = () => deadline.abort();
    force?.addEventListener('abort', abortDeadline, { once: true });
    await Promise.race([this.idle(), sleep(deadlineMs, deadline.signal)]);
    force?.removeEventListener('abort', abortDeadline);
    if (this.attempts.size > 0) {
      this.deps.log.warn('drain deadline reached; stopping attempts', { attempts: this.running() });
      this.stop(this.running(), 'drained');
    }
    await Promise.race([this.idle(), sleep(this.deps.stopGraceMs + FINISH_AFTER_DRAIN_MS)]);
    this.exit.abort(); // finish retries give up now
    await this.idle();
  }

  /** The node cannot run work until its provider fixes it: no more dispatches are taken, and the control plane is told. */
  private async nodeFault(fault: string): Promise<void> {
    if (!this.fault) this.deps.log.error('node fault: taking no more work until the agent is restarted', { fault });
    this.fault = fault;
    await this.deps.reportFault?.(fault);
  }

  private idle(): Promise<void> {
    return Promise.all([...this.attempts.values()].map((a) => a.done)).then(() => undefined);
  }

  private async dispatch(msg: DispatchMessage): Promise<Disposition> {
    const { log, api, allocator } = this.deps;
    const ids = { jobId: msg.jobId, attemptId: msg.attemptId };
    if (this.attempts.has(msg.attemptId)) {
      log.info('duplicate dispatch for a running attempt ignored', ids);
      return 'delete';
    }
    // Draining takes no work; left on the queue, the control plane re-places it once it sees `draining`.
    // A faulted node neither: the control plane took it out of service when it heard of the fault.
    if (this.draining || this.fault) return 'keep';
    // listed as running before the call and counted in the same tick: a heartbeat either lists it or
    // carries a counter below this start's
    this.starting.add(msg.attemptId);
    const seq = ++this.seq;
    const sentAt = Date.now();
    let answer: StartResponse;
    try {
      answer = await api.start(msg.jobId, { attemptId: msg.attemptId, seq });
      this.deps.onLease?.(sentAt, answer.leaseSeconds);
    } catch (err) {
      this.starting.delete(msg.attemptId);
      this.refused.delete(msg.attemptId);
      if (isConflict(err)) {
        log.info('start answered 409 (repeat delivery or fenced); not running it', ids);
        return 'delete';
      }
      if (isTransient(err)) {
        log.warn('start failed; the message will come back', { ...ids, err });
        return 'keep';
      }
      log.error('start rejected; dropping the dispatch', { ...ids, err });
      return 'delete';
    }
    if (this.refused.delete(msg.attemptId)) {
      this.starting.delete(msg.attemptId);
      log.warn('attempt taken back while it was starting; not running it', ids);
      return 'delete';
    }
    const devices = await this.allocateWaiting(msg.attemptId, msg.spec.gpus);
    const failure = devices ? undefined : `node has ${allocator.free} free GPUs, attempt needs ${msg.spec.gpus}`;
    const releaseDevices = () => allocator.release(msg.attemptId);
    const run = new AttemptRun(msg, devices ?? [], { ...this.deps, exitSignal: this.exit.signal, releaseDevices, onNodeFault: (f) => this.nodeFault(f) }, failure, answer);
    const done = run
      .run()
      .catch((err) => log.error('attempt crashed', { ...ids, err }))
      .finally(() => {
        allocator.release(msg.attemptId);
        this.attempts.delete(msg.attemptId);
        this.deps.onBusyChange?.();
      });
    this.attempts.set(msg.attemptId, { run, done });
    this.starting.delete(msg.attemptId);
    this.deps.onBusyChange?.();
    return 'delete';
  }

  /**
   * The control plane counted these GPUs free when it placed this attempt, so an attempt still holding
   * them here is on its way out: a gang's rank told to stop a moment ago (its cancel came first), or one
   * the next heartbeat will call stale. Wait for it to let go rather than hand a fresh placement back.
   */
  private async allocateWaiting(attemptId: string, gpus: number) {
    const deadline = Date.now() + this.deps.stopGraceMs + ALLOCATE_WAIT_EXTRA_MS;
    for (;;) {
      const devices = this.deps.allocator.allocate(attemptId, gpus);
      if (devices || this.attempts.size === 0 || Date.now() >= deadline) return devices;
      await sleep(50, this.exit.signal);
      if (this.exit.signal.aborted) return undefined;
    }
  }

  private halt(msg: StopMessage): Disposition {
    this.deps.log.warn('control plane says stop', { reason: msg.reason, attempts: msg.attemptIds ?? 'all' });
    this.writtenOff(msg.attemptIds ?? this.running());
    return 'delete';
  }

  private cancel(msg: CancelMessage): Disposition {
    if (!this.attempts.has(msg.attemptId)) {
      this.deps.log.info('cancel for an attempt not running here ignored', { jobId: msg.jobId, attemptId: msg.attemptId });
    }
    this.stop([msg.attemptId], 'cancelled');
    return 'delete';
  }
}
