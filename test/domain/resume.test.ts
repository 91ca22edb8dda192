// What a checkpoint saved a re-placed job (functions/domain/files/resume.ts): the attempt that starts with
// the job's last checkpoint records which one it was and the run time it holds.
import { describe, expect, it } from 'vitest';
import { resumeOf, withResume, type ResumingAttempt } from '../../functions/domain/files/resume';
import type { Attempt, Job } from '../../functions/domain/model';

const T0 = 1_000_000;
const attempt = (n: number, extra: Partial<Attempt> = {}): Attempt => ({ id: `a${n}`, n, nodeId: `n${n}`, status: 'ASSIGNED', assignedAt: T0, pricePerGpuHour: 1, ...extra });
const job = (attempts: Attempt[], extra: Partial<Job> = {}): Job =>
  ({ id: 'j', accountId: 'acc', status: 'RUNNING', command: ['x'], env: {}, resources: { gpus: 1, nodes: 1 }, attempts, createdAt: T0, version: 3, checkpoint: { intervalSeconds: 10 }, ...extra }) as unknown as Job;
const ckpt = (a: Attempt, at: number, seq = 4) => ({ at, bytes: 10, files: 1, attemptId: a.id, attemptN: a.n, seq });

describe('resumedFrom', () => {
  it('a re-placed attempt is told the checkpoint it starts from and the seconds of the lost run it saved', () => {
    const lost = attempt(0, { status: 'LOST', startedAt: T0, finishedAt: T0 + 200_000 });
    const next = attempt(1);
    const j = job([lost, next], { lastCheckpoint: ckpt(lost, T0 + 150_400) });
    expect(resumeOf(j, 'a1')).toEqual({ attemptId: 'a0', attemptN: 0, seq: 4, checkpointAt: T0 + 150_400, savedSeconds: 150 });
    const after = withResume(j, 'a1');
    expect((after.attempts[1] as ResumingAttempt).resumedFrom).toMatchObject({ attemptId: 'a0', savedSeconds: 150 });
    expect((after.attempts[0] as ResumingAttempt).resumedFrom).toBeUndefined();
  });

  it("the writer's image pull is not work saved", () => {
    const lost = attempt(0, { status: 'LOST', startedAt: T0, pullSeconds: 30 });
    expect(resumeOf(job([lost, attempt(1)], { lastCheckpoint: ckpt(lost, T0 + 100_000) }), 'a1')!.savedSeconds).toBe(70);
  });

  it('counts across attempts: a checkpoint written by a resumed attempt holds what that one had resumed from', () => {
    const first = attempt(0, { status: 'LOST', startedAt: T0 });
    const second: ResumingAttempt = { ...attempt(1, { status: 'LOST', startedAt: T0 + 500_000 }), resumedFrom: { attemptId: 'a0', attemptN: 0, seq: 2, checkpointAt: T0 + 60_000, savedSeconds: 60 } };
    const j = job([first, second, attempt(2)], { lastCheckpoint: ckpt(second, T0 + 540_000, 3) });
    expect(resumeOf(j, 'a2')).toMatchObject({ attemptId: 'a1', attemptN: 1, seq: 3, savedSeconds: 100 });
  });

  it('nothing to say without a checkpoint, for a job without checkpoints, or for the attempt that wrote it', () => {
    const lost = attempt(0, { status: 'LOST', startedAt: T0 });
    expect(resumeOf(job([lost, attempt(1)]), 'a1')).toBeUndefined();
    const j = job([lost, attempt(1)], { lastCheckpoint: ckpt(lost, T0 + 10_000), checkpoint: undefined });
    expect(resumeOf(j, 'a1')).toBeUndefined();
    expect(withResume(j, 'a1')).toBe(j);
    expect(resumeOf(job([lost], { lastCheckpoint: ckpt(lost, T0 + 10_000) }), 'a0')).toBeUndefined();
  });
});
