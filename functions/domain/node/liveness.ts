// Liveness arithmetic, shared by the heartbeat handler, the node store and the reaper.
// A heartbeat is written to DynamoDB only when the stored deadline has come within WRITE_BELOW periods,
// so an agent beating every period costs one write every other beat. The deadline is DEADLINE_PERIODS
// after the last written beat: a dead node goes OFFLINE between 3 and 4 periods after its last beat,
// that is after three missed heartbeats. docs/failure-handling.md has the arithmetic at scale.
import type { Node } from '../model';

export const DEADLINE_PERIODS = 4;
export const WRITE_BELOW_PERIODS = 3;

export function heartbeatDeadline(n: Pick<Node, 'lastSeenAt' | 'heartbeatSeconds'>): number | undefined {
  return n.lastSeenAt === undefined ? undefined : n.lastSeenAt + DEADLINE_PERIODS * (n.heartbeatSeconds ?? 60) * 1000;
}

/** Whether this beat must be written: the period changed, or the stored deadline is getting close. */
export function mustWriteHeartbeat(n: Pick<Node, 'lastSeenAt' | 'heartbeatSeconds'>, now: number, periodSeconds: number): boolean {
  const deadline = heartbeatDeadline(n);
  if (deadline === undefined || n.heartbeatSeconds !== periodSeconds) return true;
  return deadline - now <= WRITE_BELOW_PERIODS * periodSeconds * 1000;
}
