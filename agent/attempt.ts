// One attempt from dispatch to finish: run it, stream its output, enforce its time limit, stop it when
// told, and report how it ended. Every way out of an attempt passes through `run`, so finish is sent once.
import type { WebhookAddressRules } from '../functions/domain/webhook/target';
import type { DispatchMessage, FinishRequest, LogLine, PullReport, StartResponse } from '../functions/domain/agent-protocol';
import { SecretMask, secretValues } from './secret-mask';
import type { GpuDevice } from '../functions/domain/model';
import { ApiError, isConflict, isTransient, type ControlPlane } from './api';
import { backoffDelay, sleep } from './backoff';
import { LogBatcher } from './log-batcher';
import { AttemptFiles } from './files/attempt-files';
import { OutputDigest } from './output-digest';
import type { Logger } from './log';
import { endedHandle } from './runtime/process';
import { releaseLoopbackPort, takeLoopbackPort } from './service/port';
import type { ServiceReplicas } from './service/replicas';
import type { ExitResult, Runtime, RuntimeHandle } from './runtime/types';
import type { StateStore } from './state';

/** Why the agent ended an attempt itself; absent when the workload exited on its own. */
export type EndReason = 'timed_out' | 'cancelled' | 'drained' | 'fenced' | 'lease_lost' | 'written_off';
/** the control plane may already run the job elsewhere: kill at once, no grace period */
const KILL_AT_ONCE: ReadonlySet<EndReason> = new Set(['lease_lost', 'written_off']);

export interface AttemptDeps {
  api: ControlPlane;
  runtime: Runtime;
  state: StateStore;
  log: Logger;
  stopGraceMs: number;
  logMaxLines: number;
  /** where a consumer's URL input may lead (agent/files/input-guard.ts); default: public addresses only */
  inputRules?: WebhookAddressRules;
  /** the service replicas the node runs (readiness, ingress): a service attempt is listed while its workload runs */
  services?: ServiceReplicas;
  /** aborts when the agent exits: finish stops retrying then */
  exitSignal: AbortSignal;
  /** gives the attempt's GPUs back; called once the process is gone, before finish is reported, because
   * the control plane may dispatch the next attempt onto them as soon as it hears of the finish */
  releaseDevices?: () => void;
  /** the node cannot run work until fixed: resolves once the control plane was told (so the finish cannot bring the work back here) */
  onNodeFault?: (fault: string) => Promise<void>;
}

/** setTimeout holds at most 2^31-1 ms (about 24.8 days); longer limits re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

export class AttemptRun {
  readonly jobId: string;
  readonly attemptId: string;
  private reason?: EndReason;
  /** the workload has ended (on its own or stopped): a later stop changes nothing */
  private ended = false;
  private handle?: RuntimeHandle;
  /** inputs, outputs and checkpoints (docs/data.md); `prepared` says why they kept the attempt from starting */
  private files?: AttemptFiles;
  private prepared?: { error: string; node: boolean };
  /** no loopback port could be had for a service replica (the node's fault) */
  private portFailure?: string;
  private timer?: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly batcher: LogBatcher;
  /** what replicated verification compares across nodes */
  private readonly digest = new OutputDigest();
  /** the image pull's last phase; `pullSent` is the one the control plane has (the next log request carries a newer one) */
  private pull?: PullReport;
  private pullSent?: PullReport;
  /** the attempt's secret values, replaced by *** in every line and error it reports */
  private readonly mask: SecretMask;

  constructor(
    private readonly msg: DispatchMessage,
    readonly devices: GpuDevice[],
    private readonly deps: AttemptDeps,
    /** set when the attempt cannot run here at all: it is finished as an error without starting */
    private readonly failure?: string,
    /** the answer to this attempt's start (its secrets): handed to the runtime, never stored */
    private readonly start?: StartResponse,
  ) {
    this.mask = new SecretMask(secretValues(start?.secrets));
    this.jobId = msg.jobId;
    this.attemptId = msg.attemptId;
    this.log = deps.log.child({ jobId: msg.jobId, attemptId: msg.attemptId });
    this.batcher = new LogBatcher({
      send: (lines) => this.sendLogs(lines),
      onFenced: () => this.stop('fenced'),
      onError: (err, failures) => failures === 1 && this.log.warn('log upload failing; retrying', { err }),
      maxLines: deps.logMaxLines,
    });
  }

  /** Runs the attempt to its end, finish included; never rejects. */
  async run(): Promise<void> {
    const { runtime, state } = this.deps;
    const files = new AttemptFiles(state.dir, this.jobId, this.attemptId, this.deps.api, this.log, this.start?.files, (t) => this.batcher.push('system', t), this.deps.inputRules);
    this.files = files;
    if (!this.failure) {
      // inputs in place and the last checkpoint restored before the command starts; a bad input is the
      // consumer's (an error), a checkpoint the store cannot give back is the node's side (lost, re-placed)
      this.prepared = await files.prepare().then(
        (error) => (error ? { error, node: false } : undefined),
        (err: Error) => ({ error: err.message, node: true }),
      );
      if (this.prepared) this.batcher.push('system', `gpupool: ${this.prepared.error}`);
    }
    const service = this.msg.spec.service;
    // a replica's loopback port: its PORT (process runtime) or the published host port (docker)
    const hostPort = service && !this.failure && !this.prepared ? await takeLoopbackPort().catch((err: Error) => (this.portFailure = err.message, undefined)) : undefined;
    const failed = this.failure ?? this.prepared?.error ?? this.portFailure;
    this.handle = failed
      ? endedHandle({ exitCode: null, signal: null, error: failed, ...(this.portFailure ? { infrastructure: true } : {}) })
      : runtime.start({
          ...this.msg,
          devices: this.devices,
          ...(hostPort ? { hostPort } : {}),
          dirs: files.dirs,
          // masked before anything else sees the line: the digest compares what the consumer sees
          onLine: (s, t) => {
            const line = this.mask.mask(t);
            this.digest.push(s, line);
            this.batcher.push(s, line);
          },
          // rides on the next log request: the runtime's system line about it schedules one within 250 ms
          onPull: (p) => (this.pull = p.phase === 'FAILED' ? { ...p, message: this.mask.mask(p.message) } : p),
          ...(this.start ? { start: this.start } : {}),
        });
    // Noted as soon as the runtime says so, before the awaits below: a stop arriving after the workload
    // ended on its own (a lease running out while the attempt is still being recorded) must not turn a
    // finished run into a lost one, which the control plane would place and run again.
    void this.handle.wait().then(() => (this.ended = true));
    const { pid, container } = this.handle.ref;
    if (!this.failure) {
      const devices = this.devices.map((d) => d.index);
      await state.put({ attemptId: this.attemptId, jobId: this.jobId, runtime: runtime.kind, pid, container, devices, startedAt: Date.now(), ...(hostPort ? { hostPort } : {}) });
    }
    if (service && hostPort && !this.ended) this.deps.services?.add({ attemptId: this.attemptId, serviceId: service.id, hostPort, readinessPath: service.readinessPath });
    this.log.info('attempt started', { pid, container, gpus: this.devices.map((d) => d.index), ...(hostPort ? { hostPort } : {}) });
    // a service replica's maxDurationSeconds is its billing period, renewed by the control plane: it never
    // times out here (it ends when cancelled, stopped, drained, or when its process exits)
    if (!service) this.armTimeout(Date.now() + this.msg.spec.maxDurationSeconds * 1000);
    if (!this.failure && !this.prepared) files.startCheckpoints();
    if (this.reason) void this.handle.stop(KILL_AT_ONCE.has(this.reason) ? 0 : this.deps.stopGraceMs); // stopped before it started
    const result = await this.handle.wait();
    clearTimeout(this.timer);
    if (result.nodeFault) await this.deps.onNodeFault?.(result.nodeFault).catch((err: Error) => this.log.warn('node fault not reported', { err: err.message }));
    this.deps.services?.remove(this.attemptId);
    releaseLoopbackPort(hostPort);
    this.deps.releaseDevices?.();
    // a last checkpoint and the outputs, unless the attempt belongs to nobody now (its job may run elsewhere)
    if (!this.failure && !this.prepared && !(this.reason && (KILL_AT_ONCE.has(this.reason) || this.reason === 'fenced'))) {
      await files.finalCheckpoint();
      await files.uploadOutputs().catch((err: Error) => {
        this.log.warn('outputs not uploaded', { err: err.message });
        this.batcher.push('system', `gpupool: outputs not uploaded: ${err.message}`);
      });
    }
    const lines = await this.batcher.close();
    const finish = this.finishBody(result, lines);
    this.log.info('attempt ended', { outcome: finish.outcome, exitCode: finish.exitCode, reason: this.reason, error: finish.error });
    // A fenced or written-off attempt belongs to nobody: the control plane would answer 409, so save the request.
    if (this.reason !== 'fenced' && this.reason !== 'written_off') await this.finish(finish);
    await state.remove(this.attemptId);
    await files.cleanup();
  }

  /** Ends the attempt early; the first reason wins (a timeout after a cancel is still a cancel). */
  stop(reason: EndReason): void {
    if (this.reason || this.ended) return;
    this.reason = reason;
    this.log.info('stopping attempt', { reason });
    this.batcher.push('system', `gpupool: stopping attempt (${reason.replace('_', ' ')})`);
    // a lost lease kills at once: the control plane may start the job elsewhere any moment now
    void this.handle?.stop(KILL_AT_ONCE.has(reason) ? 0 : this.deps.stopGraceMs);
  }

  private armTimeout(deadline: number): void {
    const left = deadline - Date.now();
    this.timer = setTimeout(() => (left > MAX_TIMER_MS ? this.armTimeout(deadline) : this.stop('timed_out')), Math.min(left, MAX_TIMER_MS));
  }

  private finishBody(result: ExitResult, lines: LogLine[]): FinishRequest {
    const exitCode = result.exitCode === null ? null : Math.max(-255, Math.min(255, result.exitCode));
    const base = { attemptId: this.attemptId, exitCode, lines, ...(this.failure ? {} : { outputDigest: this.digest.value() }), ...(this.pull ? { pull: this.pull } : {}) };
    switch (this.reason) {
      case 'timed_out':
        return { ...base, outcome: 'timed_out', error: `exceeded maxDurationSeconds (${this.msg.spec.maxDurationSeconds} s)` };
      case 'cancelled':
        return { ...base, outcome: 'cancelled' };
      case 'drained':
        return { ...base, outcome: 'cancelled', error: 'agent drained' };
      case 'lease_lost':
        // exit 0 without a signal: it completed before the kill (which gives it no time to trap the
        // signal), in the window before the runtime reported the exit; reported lost it would run again
        if (result.exitCode === 0 && result.signal === null && !result.error) break;
        return { ...base, outcome: 'lost', error: 'agent could not renew its lease with the control plane' };
    }
    // this node could not run it (no free GPUs here): the control plane places it elsewhere
    if (this.failure) return { ...base, outcome: 'lost', error: this.failure };
    // an input that does not check out is the consumer's to fix; a checkpoint the node could not restore is not
    if (this.prepared) return { ...base, ...(this.prepared.node ? { outcome: 'lost' } : { outcome: 'error', failure: 'INPUT_FAILED' }), error: this.prepared.error.slice(0, 2048) };
    // the node could not run it (its engine failed): handed back and re-placed, the consumer not charged
    if (result.error && result.infrastructure) return { ...base, outcome: 'lost', error: this.mask.mask(result.error).slice(0, 2048) };
    if (result.error) return { ...base, outcome: 'error', error: this.mask.mask(result.error).slice(0, 2048) };
    return { ...base, outcome: 'exited' };
  }

  private async sendLogs(lines: LogLine[]): Promise<'ok' | 'fenced'> {
    const pull = this.pull !== this.pullSent ? this.pull : undefined;
    try {
      await this.deps.api.logs(this.jobId, { attemptId: this.attemptId, lines, ...(pull ? { pull } : {}) });
      if (pull) this.pullSent = pull;
      return 'ok';
    } catch (err) {
      if (isConflict(err)) return 'fenced';
      if (isTransient(err)) throw err;
      // A 4xx other than 409 will not change on retry; dropping this batch keeps the stream moving.
      this.log.error('control plane rejected log lines; dropped them', { err, lines: lines.length });
      return 'ok';
    }
  }

  // Retried until the control plane has it: without finish the job would wait for the reaper to fail it.
  private async finish(body: FinishRequest): Promise<void> {
    for (let failures = 1; ; failures++) {
      try {
        await this.deps.api.finish(this.jobId, body);
        return;
      } catch (err) {
        if (isConflict(err)) return this.log.info('finish answered 409: attempt already settled elsewhere');
        if (!isTransient(err) || this.deps.exitSignal.aborted) {
          return this.log.error('finish not delivered', { err, status: err instanceof ApiError ? err.status : undefined });
        }
        if (failures === 1) this.log.warn('finish failing; retrying', { err });
        await sleep(backoffDelay(failures), this.deps.exitSignal);
      }
    }
  }
}
