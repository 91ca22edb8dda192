// queuePosition (issue 20): the sweep's fair order, counted per kind of capacity; the estimate from
// running jobs of the same models by their latest end (start + max duration).
import { describe, expect, it } from 'vitest';
import { capacityKind, queuePosition } from '../../functions/domain/job/queue-position';

const q = (id: string, accountId: string, createdAt: number, o: { gpus?: number; models?: string[]; priority?: number; nodes?: number } = {}) => ({
  id,
  accountId,
  createdAt,
  priority: o.priority ?? 0,
  resources: { gpus: o.gpus ?? 1, nodes: o.nodes ?? 1, ...(o.models ? { gpuModels: o.models } : {}) },
});
const r = (startedAt: number, o: { gpus?: number; models?: string[]; maxS?: number; service?: boolean } = {}) => ({
  status: 'RUNNING' as const,
  resources: { gpus: o.gpus ?? 1, nodes: 1, ...(o.models ? { gpuModels: o.models } : {}) },
  maxDurationSeconds: o.maxS ?? 100,
  liveAttemptId: 'a',
  attempts: [{ id: 'a', n: 0, nodeId: 'n', status: 'RUNNING' as const, assignedAt: startedAt - 1, startedAt, pricePerGpuHour: 0 }],
  ...(o.service ? { service: { id: 's', generation: 1, port: 1, readinessPath: '/' } } : {}),
});

describe('queuePosition', () => {
  it('orders like the sweep: priority, then accounts in turns; counts only the same kind in position', () => {
    const jobs = [q('a1', 'A', 1, { models: ['A100'] }), q('a2', 'A', 2, { models: ['A100'] }), q('b1', 'B', 3, { models: ['A100'] }), q('h', 'B', 0, { models: ['H100'] }), q('p', 'C', 9, { models: ['A100'], priority: 5 })];
    const at = (id: string) => queuePosition(jobs.find((j) => j.id === id)!, jobs, [], 0);
    expect(at('p')).toEqual({ position: 1, ahead: 0, estimatedStartAt: null });
    // B's oldest (h) waited longest: B goes first at priority 0 → p, h, a1, b1, a2
    expect(at('a1')).toMatchObject({ position: 2, ahead: 2 });
    expect(at('b1')).toMatchObject({ position: 3, ahead: 3 });
    expect(at('a2')).toMatchObject({ position: 4, ahead: 4 });
    expect(at('h')).toMatchObject({ position: 1, ahead: 1 });
  });

  it('model sets are one kind whatever their order; GPUs per node make another', () => {
    expect(capacityKind(q('x', 'A', 0, { models: ['H100', 'A100'] }))).toBe(capacityKind(q('y', 'A', 0, { models: ['A100', 'H100'] })));
    expect(capacityKind(q('x', 'A', 0, { gpus: 2 }))).not.toBe(capacityKind(q('y', 'A', 0, { gpus: 1 })));
  });

  it('estimates from the running jobs of the same models that end first, enough GPUs for the jobs ahead too', () => {
    const jobs = [q('a', 'A', 1, { models: ['A100'] }), q('b', 'B', 2, { models: ['A100'] })];
    const running = [r(5000, { models: ['A100'], maxS: 50 }), r(1000, { models: ['A100'], maxS: 10 }), r(0, { models: ['H100'], maxS: 1 }), r(0, { models: ['A100'], service: true })];
    expect(queuePosition(jobs[0], jobs, running, 0).estimatedStartAt).toBe(11_000);
    expect(queuePosition(jobs[1], jobs, running, 0).estimatedStartAt).toBe(55_000);
    // three needed, two can free: no estimate; a latest end already past: now
    const third = q('c', 'C', 3, { models: ['A100'] });
    expect(queuePosition(third, [...jobs, third], running, 0).estimatedStartAt).toBeNull();
    expect(queuePosition(jobs[0], jobs, running, 20_000).estimatedStartAt).toBe(20_000);
    // a gang's GPUs count on every node
    expect(queuePosition(q('g', 'A', 1, { models: ['A100'], nodes: 2 }), [], running, 0).estimatedStartAt).toBe(55_000);
  });
});
