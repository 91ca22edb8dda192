// Node states and what each allows.
//
//   ONLINE ⇄ DEGRADED ──(missed heartbeats)──► OFFLINE ──(new session)──► ONLINE
//     │ drain ▲ undrain
//     ▼       │
//   DRAINING ─┘            QUARANTINED: checkers proved it wrong; only an admin releases it (→ OFFLINE)
//   ONLINE ─(degrade: failed probes)─► DEGRADED ─(recover: good probes)─► ONLINE
//   any ──(deregister)──► DEREGISTERED (final)
import { conflict } from '../errors';
import type { Node, NodeStatus } from '../model';

/** Nodes in these states get new work (DEGRADED ranked lower by the matcher). */
export const SCHEDULABLE: readonly NodeStatus[] = ['ONLINE', 'DEGRADED'];
/** Nodes in these states must keep heartbeating; the reaper watches them. */
export const WATCHED: readonly NodeStatus[] = ['ONLINE', 'DEGRADED', 'DRAINING'];

export const isSchedulable = (n: Pick<Node, 'status'>) => SCHEDULABLE.includes(n.status);
export const isWatched = (n: Pick<Node, 'status'>) => WATCHED.includes(n.status);

export type NodeEvent = 'session' | 'missedHeartbeats' | 'drain' | 'undrain' | 'deregister' | 'quarantine' | 'release' | 'degrade' | 'recover';

/** The next status, or a conflict. Repeating an event that already holds is allowed (idempotent). */
export function nextNodeStatus(status: NodeStatus, event: NodeEvent): NodeStatus {
  if (status === 'DEREGISTERED') throw conflict('node is deregistered');
  switch (event) {
    case 'session':
      // a node coming back keeps DRAINING/QUARANTINED: only an operator lifts those
      return status === 'OFFLINE' ? 'ONLINE' : status;
    case 'missedHeartbeats':
      return status === 'QUARANTINED' ? status : 'OFFLINE';
    case 'drain':
      if (status === 'QUARANTINED') throw conflict('node is quarantined');
      return 'DRAINING';
    case 'undrain':
      if (status !== 'DRAINING') return status;
      return 'ONLINE';
    case 'deregister':
      return 'DEREGISTERED';
    case 'quarantine':
      return 'QUARANTINED';
    case 'release':
      if (status !== 'QUARANTINED') return status;
      return 'OFFLINE';
    // the checker's probe verdicts: only between ONLINE and DEGRADED; drained, offline and quarantined
    // nodes keep their status (the reaper, the provider or an admin moves those)
    case 'degrade':
      return status === 'ONLINE' ? 'DEGRADED' : status;
    case 'recover':
      return status === 'DEGRADED' ? 'ONLINE' : status;
  }
}
