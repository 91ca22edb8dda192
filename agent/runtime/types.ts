// One interface for every way the agent runs work, so the attempt lifecycle is written once.
import type { AttemptSpec, PullReport, StartResponse } from '../../functions/domain/agent-protocol';
import type { GpuDevice } from '../../functions/domain/model';

export type Stream = 'stdout' | 'stderr' | 'system';

export interface RuntimeAttempt {
  jobId: string;
  attemptId: string;
  spec: AttemptSpec;
  /** the physical GPUs this attempt holds, allocated by the agent */
  devices: GpuDevice[];
  /** receives every output line, in order per stream; must not block */
  onLine: (stream: Stream, text: string) => void;
  /** the image pull's phase (docker runtime), reported to the control plane; must not block */
  onPull?: (pull: PullReport) => void;
  /** the attempt's inputs, outputs and checkpoint dirs on the host: $GPUPOOL_INPUT_DIR etc. (docker mounts them at /inputs, /outputs, /checkpoints) */
  dirs?: { inputs: string; outputs: string; checkpoints: string };
  /** a service replica's loopback port on the host (agent/service/port.ts): the process runtime gives it to
   * the process as PORT; the docker runtime publishes the container's service port on it */
  hostPort?: number;
  /** the control plane's answer to this attempt's start: its secrets (env values, registry login) live here,
   * in memory, for this attempt only; never written to a file the agent keeps or to its log */
  start?: StartResponse;
}

export interface ExitResult {
  /** the process's exit code; 128+signal when a signal ended it; null when it never ran */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** set when the runtime could not run the attempt at all (spawn failed, image pull failed) */
  error?: string;
  /** the node, not the job, is at fault (the engine failed, a GPU runtime is missing): the attempt is
   * handed back to the pool (outcome `lost`: re-placed, not charged) instead of failing the consumer's job */
  infrastructure?: boolean;
  /** besides: the node cannot run any such work until its provider fixes it (words for its status) */
  nodeFault?: string;
}

export interface RuntimeHandle {
  /** where the attempt lives, recorded in attempts.json so a restarted agent can find it */
  readonly ref: { pid?: number; container?: string };
  /** resolves once the attempt has ended and its output is drained; never rejects */
  wait(): Promise<ExitResult>;
  /** SIGTERM (or `docker stop`), then SIGKILL after graceMs; resolves when the attempt has ended */
  stop(graceMs: number): Promise<ExitResult>;
}

export interface Runtime {
  readonly kind: 'docker' | 'process';
  start(attempt: RuntimeAttempt): RuntimeHandle;
  /** kills what a previous agent run left behind for this attempt; quiet when nothing is left */
  killLeftover(ref: { pid?: number; container?: string; attemptId: string }): Promise<void>;
}
