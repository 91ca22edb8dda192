import { describe, expect, it } from 'vitest';
import { nextNodeStatus, type NodeEvent } from '../../functions/domain/node/status';
import type { NodeStatus } from '../../functions/domain/model';

describe('node status', () => {
  it.each<[NodeStatus, NodeEvent, NodeStatus]>([
    ['OFFLINE', 'session', 'ONLINE'],
    ['ONLINE', 'session', 'ONLINE'],
    ['DRAINING', 'session', 'DRAINING'],
    ['QUARANTINED', 'session', 'QUARANTINED'],
    ['ONLINE', 'missedHeartbeats', 'OFFLINE'],
    ['DEGRADED', 'missedHeartbeats', 'OFFLINE'],
    ['ONLINE', 'drain', 'DRAINING'],
    ['DRAINING', 'undrain', 'ONLINE'],
    ['OFFLINE', 'undrain', 'OFFLINE'],
    ['ONLINE', 'quarantine', 'QUARANTINED'],
    ['QUARANTINED', 'release', 'OFFLINE'],
    ['ONLINE', 'deregister', 'DEREGISTERED'],
  ])('%s + %s → %s', (from, event, to) => {
    expect(nextNodeStatus(from, event)).toBe(to);
  });

  it('refuses everything on a deregistered node and draining a quarantined one', () => {
    expect(() => nextNodeStatus('DEREGISTERED', 'session')).toThrow(/deregistered/);
    expect(() => nextNodeStatus('QUARANTINED', 'drain')).toThrow(/quarantined/);
  });
});
