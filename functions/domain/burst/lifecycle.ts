// What to do with each live burst instance on a tick, pure. The use case carries the steps out, each as a
// conditional write, so two ticks racing cannot drain, terminate or charge one instance twice.
//
//   launching ──RunInstances──► booting ──node registered──► running ──idle ≥ idleMinutes──► draining ─► terminating ─► terminated
//       │ (no answer: retry, same ClientToken)  │ boot timeout ─────────────────────────────────────────►│
//       └─ refused ─► failed                    └─ EC2 says gone (spot reclaimed, stopped by hand) ─► node deregistered ─► terminated
import type { Node } from '../model';
import type { BurstInstance } from './model';
import type { BurstSettings } from './settings';

/** What EC2 says about an instance: absent when DescribeInstances no longer knows it. */
export type Ec2State = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

export type Step =
  | { kind: 'retryLaunch' }
  | { kind: 'linkNode'; nodeId: string }
  | { kind: 'idle'; since: number }
  | { kind: 'busy' }
  | { kind: 'drain'; reason: string }
  | { kind: 'terminate'; reason: string }
  | { kind: 'gone'; reason: string }
  | { kind: 'none' };

export const REASON_IDLE = 'idle';
export const REASON_BOOT_TIMEOUT = 'agent did not register within the boot timeout';
export const REASON_BUDGET = 'daily budget reached';
/** a record stuck in `launching` this long had its RunInstances call lost: try again with the same ClientToken */
export const LAUNCH_RETRY_MS = 60_000;

export interface InstanceView {
  record: BurstInstance;
  /** the node its agent registered, if any */
  node?: Pick<Node, 'id' | 'status' | 'freeGpus' | 'totalGpus'>;
  ec2?: Ec2State;
}

/** The one next step for an instance; the tick applies it and looks again next time. */
export function nextStep(v: InstanceView, s: Pick<BurstSettings, 'idleMinutes' | 'bootTimeoutMinutes'>, now: number): Step {
  const r = v.record;
  const gone = v.ec2 === 'terminated' || v.ec2 === 'shutting-down' || v.ec2 === 'stopped' || v.ec2 === 'stopping';
  if (r.state === 'launching') return now - (r.launchedAt ?? r.createdAt) >= LAUNCH_RETRY_MS ? { kind: 'retryLaunch' } : { kind: 'none' };
  if (gone || (r.instanceId && v.ec2 === undefined && r.state !== 'booting')) {
    return { kind: 'gone', reason: r.state === 'terminating' ? r.stateReason ?? 'terminated' : `instance ${v.ec2 ?? 'vanished'}` };
  }
  if (r.state === 'terminating') return { kind: 'terminate', reason: r.stateReason ?? 'terminating' };
  if (r.state === 'booting') {
    if (v.node) return { kind: 'linkNode', nodeId: v.node.id };
    return now - (r.launchedAt ?? r.createdAt) >= s.bootTimeoutMinutes * 60_000 ? { kind: 'terminate', reason: REASON_BOOT_TIMEOUT } : { kind: 'none' };
  }
  const node = v.node;
  if (!node || node.status === 'DEREGISTERED') return { kind: 'terminate', reason: 'its node was deregistered' };
  const idle = node.freeGpus === node.totalGpus;
  if (r.state === 'draining') return idle ? { kind: 'terminate', reason: r.stateReason ?? REASON_IDLE } : { kind: 'none' };
  if (!idle) return r.idleSince === undefined ? { kind: 'none' } : { kind: 'busy' };
  if (r.idleSince === undefined) return { kind: 'idle', since: now };
  if (now - r.idleSince >= s.idleMinutes * 60_000) return { kind: 'drain', reason: `${REASON_IDLE} for ${s.idleMinutes} min` };
  return { kind: 'none' };
}

/** Whole hours from launch the budget must have been charged for by `now` (the current hour included). */
export function hoursDue(r: Pick<BurstInstance, 'launchedAt' | 'createdAt'>, now: number): number {
  return Math.floor((now - (r.launchedAt ?? r.createdAt)) / 3_600_000) + 1;
}
