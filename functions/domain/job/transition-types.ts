// What a transition returns and how an attempt may end: shared by transitions.ts, gang.ts, attempt-end.ts
// and pull.ts, in their own file so that none of them imports another for a type.
import type { Job } from '../model';

export type Effect =
  | { kind: 'claimGpus'; nodeId: string; gpus: number }
  | { kind: 'releaseGpus'; nodeId: string; gpus: number }
  | { kind: 'dispatch'; nodeId: string; attemptId: string }
  | { kind: 'sendCancel'; nodeId: string; attemptId: string }
  /** escrow: hold the attempt's `hold` from the consumer, in the same transaction as the claim */
  | { kind: 'hold'; attempt: number }
  /** the attempt ended: pay its `charged` to the provider and give the rest of its hold back */
  | { kind: 'settle'; attempt: number }
  /**
   * a service replica's billing period renewed (renewal.ts): settle period `segment` of the attempt (its hold
   * `held`, metered `charged`) and hold the attempt's `hold` as period `segment + 1`, in the job's transaction
   */
  | { kind: 'renew'; attempt: number; segment: number; held: number; charged: number };

export interface Transition {
  job: Job;
  effects: Effect[];
}

export type FinishOutcome = 'exited' | 'timed_out' | 'cancelled' | 'error' | 'lost';
