// Replicated verification's pure parts: the verdict over replicas (majority, ties, inconclusive, votes per
// node and per provider), the placement filters that spread replicas, and the sibling jobs of a submit.
import { describe, expect, it } from 'vitest';
import { judgeReplicas, judgeRound, type Replica } from '../../functions/domain/checker/replicas';
import { failVerification } from '../../functions/domain/job/verification-transition';
import type { Candidate, MatchJob } from '../../functions/domain/matcher/filters';
import { rank } from '../../functions/domain/matcher/pipeline';
import type { Attempt, Job } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { replicaIds, replicaJobs, tiebreakerId, tiebreakerJob } from '../../functions/usecases/replicas';

const A = 'sha256:' + 'a'.repeat(64);
const B = 'sha256:' + 'b'.repeat(64);
const C = 'sha256:' + 'c'.repeat(64);

/** a replica that ran on `node` of `provider` and reported `digest` with exit code `exit` */
function ran(i: number, node: string, provider: string, digest: string | undefined, exit = 0, status: Attempt['status'] = exit === 0 ? 'SUCCEEDED' : 'FAILED'): Replica {
  const attempt: Attempt = { id: `a${i}`, n: 0, nodeId: node, status, assignedAt: 0, pricePerGpuHour: 1 };
  return {
    job: { id: `j${i}`, status: status === 'SUCCEEDED' ? 'SUCCEEDED' : status === 'FAILED' ? 'FAILED' : 'CANCELLED', attempts: [attempt] },
    result: { attemptId: attempt.id, nodeId: node, providerId: provider, exitCode: exit, ...(digest ? { outputDigest: digest } : {}) },
  };
}

describe('judgeReplicas', () => {
  it.each<[string, Replica[], { status: string; minority?: string[]; agreeing?: string[]; unsettled?: string[] }]>([
    ['all agree', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', A), ran(2, 'n3', 'p3', A)], { status: 'agreed', agreeing: ['n1', 'n2', 'n3'], minority: [] }],
    ['2 of 3 agree: the third is the minority', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', A)], { status: 'disagreed', minority: ['n2'], agreeing: ['n1', 'n3'] }],
    ['same output, another exit code: a different result', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', A, 1), ran(2, 'n3', 'p3', A)], { status: 'disagreed', minority: ['n2'] }],
    ['2 replicas disagree: inconclusive, both unsettled', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B)], { status: 'inconclusive', minority: [], unsettled: ['n1', 'n2'] }],
    ['2 vs 2: a tie is inconclusive', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', A), ran(3, 'n4', 'p4', B)], { status: 'inconclusive', unsettled: ['n1', 'n2', 'n3', 'n4'] }],
    ['3, 1, 1 of 5: both loners are the minority', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', A), ran(3, 'n4', 'p4', C), ran(4, 'n5', 'p5', A)], { status: 'disagreed', minority: ['n2', 'n4'] }],
    ['2, 1, 1, 1 of 5: a plurality is no majority', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', A), ran(3, 'n4', 'p4', C), ran(4, 'n5', 'p5', 'sha256:' + 'd'.repeat(64))], { status: 'inconclusive' }],
    ['two nodes of one provider cannot outvote another provider', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p1', A), ran(2, 'n3', 'p3', B)], { status: 'inconclusive', minority: [], unsettled: ['n1', 'n2', 'n3'] }],
    ['a liar of the majority’s provider is still outvoted', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', A), ran(2, 'n3', 'p1', B)], { status: 'disagreed', minority: ['n3'] }],
    ['two replicas on one node vote once', [ran(0, 'n1', 'p1', A), ran(1, 'n1', 'p1', A), ran(2, 'n3', 'p3', B)], { status: 'inconclusive', minority: [], unsettled: ['n1', 'n3'] }],
    ['a node answering one job two ways votes for nothing', [ran(0, 'n1', 'p1', A), ran(1, 'n1', 'p1', B), ran(2, 'n3', 'p3', A), ran(3, 'n4', 'p4', A)], { status: 'agreed', agreeing: ['n3', 'n4'], unsettled: ['n1'] }],
    ['no digest: nothing to compare', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', undefined)], { status: 'inconclusive', unsettled: [] }],
    ['a cancelled replica does not vote; the other two agree', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', A, 0, 'CANCELLED'), ran(2, 'n3', 'p3', A)], { status: 'agreed', agreeing: ['n1', 'n3'] }],
  ])('%s', (_name, replicas, want) => {
    expect(judgeReplicas(replicas)).toMatchObject(want);
  });

  it('waits while any replica is live', () => {
    const live = ran(1, 'n2', 'p2', A);
    expect(judgeReplicas([ran(0, 'n1', 'p1', A), { ...live, job: { ...live.job, status: 'RUNNING' } }]).status).toBe('pending');
  });

  it('counts only the result of the last attempt (a re-placed replica’s earlier report is stale)', () => {
    const r = ran(1, 'n2', 'p2', B);
    const replaced: Replica = {
      job: { ...r.job, attempts: [{ ...r.job.attempts[0], status: 'LOST' }, { id: 'a9', n: 1, nodeId: 'n4', status: 'SUCCEEDED', assignedAt: 1, pricePerGpuHour: 1 }] },
      result: r.result,
    };
    const v = judgeReplicas([ran(0, 'n1', 'p1', A), replaced, ran(2, 'n3', 'p3', A)]);
    expect(v).toMatchObject({ status: 'agreed', agreeing: ['n1', 'n3'] });
    expect(v.counted.map((c) => c.jobId)).toEqual(['j0', 'j2']);
  });
});

describe('judgeRound: the tie-breaker', () => {
  it.each<[string, Replica[], { status: string; mismatch: boolean }]>([
    ['2 replicas that differ call for a tie-breaker', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B)], { status: 'tiebreak', mismatch: true }],
    ['2 vs 2 calls for a tie-breaker', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', A), ran(3, 'n4', 'p4', B)], { status: 'tiebreak', mismatch: true }],
    ['two nodes of one provider against a third: a tie-breaker', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p1', A), ran(2, 'n3', 'p3', B)], { status: 'tiebreak', mismatch: true }],
    ['a strict majority needs none (but is a mismatch)', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', A)], { status: 'disagreed', mismatch: true }],
    ['agreement needs none', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', A)], { status: 'agreed', mismatch: false }],
    ['too few results to compare: no tie-breaker', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', undefined)], { status: 'inconclusive', mismatch: false }],
    ['a cancelled group gets no tie-breaker', [ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', A, 0, 'CANCELLED')], { status: 'inconclusive', mismatch: true }],
  ])('round 0: %s', (_name, replicas, want) => {
    expect(judgeRound(replicas, 0)).toMatchObject(want);
  });

  it('round 1 decides with the tie-breaker: the liar is the minority', () => {
    const v = judgeRound([ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', A)], 1);
    expect(v).toMatchObject({ status: 'disagreed', minority: ['n2'], agreeing: ['n1', 'n3'], mismatch: true });
  });

  it('round 1 never calls for a second tie-breaker: still no majority is inconclusive', () => {
    const v = judgeRound([ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), ran(2, 'n3', 'p3', C)], 1);
    expect(v).toMatchObject({ status: 'inconclusive', minority: [], unsettled: ['n1', 'n2', 'n3'], mismatch: true });
  });

  it('round 1 waits for the tie-breaker', () => {
    const tb = ran(2, 'n3', 'p3', A);
    expect(judgeRound([ran(0, 'n1', 'p1', A), ran(1, 'n2', 'p2', B), { job: { ...tb.job, status: 'QUEUED', attempts: [] } }], 1).status).toBe('pending');
  });
});

describe('failVerification', () => {
  const job = (status: Job['status']): Job => ({
    ...SubmitJobSchema.parse({ command: ['x'], resources: { gpus: 1 }, verification: { replicas: 2 } }),
    id: 'g1', accountId: 'c', status, attempts: [], createdAt: 1, queuedAt: 1, finishedAt: 5, exitCode: 0, version: 7,
  });

  it('turns a SUCCEEDED job FAILED with VERIFICATION_MISMATCH, no effects, one version on', () => {
    const t = failVerification(job('SUCCEEDED'), 9);
    expect(t.effects).toEqual([]);
    expect(t.job).toMatchObject({ status: 'FAILED', reason: 'VERIFICATION_MISMATCH', version: 8, finishedAt: 5, exitCode: 0 });
  });

  it.each<Job['status']>(['QUEUED', 'RUNNING', 'FAILED', 'CANCELLED', 'TIMED_OUT'])('refuses a %s job', (status) => {
    expect(() => failVerification(job(status), 9)).toThrow(/not SUCCEEDED/);
  });
});

describe('placement filters for replicas', () => {
  const node = (id: string, providerId: string): Candidate => ({ id, providerId, status: 'ONLINE', gpuModel: 'A100', vramGb: 80, freeGpus: 1, totalGpus: 1, pricePerGpuHour: 1, region: 'r', reputation: 0.5 });
  const job = (avoid?: MatchJob['replicaAvoid']): MatchJob => ({ id: 'j', accountId: 'c', resources: { gpus: 1, nodes: 1 }, attempts: [], ...(avoid ? { replicaAvoid: avoid } : {}) });
  const ids = (j: MatchJob, nodes: Candidate[]) => rank(j, nodes, () => 0).ranked.map((r) => r.node.id).sort();

  it('never puts a replica on a sibling’s node', () => {
    const r = rank(job({ nodes: ['n1'], providers: ['p1'] }), [node('n1', 'p1')], () => 0);
    expect(r.ranked).toHaveLength(0);
    expect(r.rejected).toEqual({ 'runs another replica of this job': 1 });
  });

  it('prefers another provider, and falls back to a sibling’s provider rather than strand the replica', () => {
    expect(ids(job({ nodes: ['n1'], providers: ['p1'] }), [node('n1', 'p1'), node('n2', 'p1'), node('n3', 'p2')])).toEqual(['n3']);
    expect(ids(job({ nodes: ['n1'], providers: ['p1'] }), [node('n1', 'p1'), node('n2', 'p1')])).toEqual(['n2']);
  });

  it('leaves other jobs alone', () => {
    expect(ids(job(), [node('n1', 'p1'), node('n2', 'p1')])).toEqual(['n1', 'n2']);
  });
});

describe('replica jobs of a submit', () => {
  const base = (over: object = {}): Job => ({
    ...SubmitJobSchema.parse({ command: ['echo', '42'], resources: { gpus: 1 }, webhook: { url: 'https://example.com/h' }, ...over }),
    id: 'g1',
    accountId: 'c',
    status: 'QUEUED',
    attempts: [],
    createdAt: 1,
    queuedAt: 1,
    version: 0,
  });

  it('makes N jobs with deterministic sibling ids; only the first keeps the webhook', () => {
    const jobs = replicaJobs(base({ verification: { replicas: 3 } }));
    expect(jobs.map((j) => j.id)).toEqual(replicaIds('g1', 3));
    expect(jobs.map((j) => j.id)).toEqual(['g1', 'g1-r1', 'g1-r2']);
    expect(jobs.map((j) => [j.replicaGroup, j.replicaIndex])).toEqual([['g1', 0], ['g1', 1], ['g1', 2]]);
    expect(jobs.map((j) => Boolean(j.webhook))).toEqual([true, false, false]);
    expect(new Set(jobs.map((j) => JSON.stringify(j.command)))).toEqual(new Set(['["echo","42"]']));
  });

  it('makes the tie-breaker the next sibling, queued, with the spec and without the webhook or run state', () => {
    const [first] = replicaJobs(base({ verification: { replicas: 2 } }));
    const ran: Job = { ...first, status: 'SUCCEEDED', nodeId: 'n1', exitCode: 0, startedAt: 3, finishedAt: 4, attempts: [{ id: 'a', n: 0, nodeId: 'n1', status: 'SUCCEEDED', assignedAt: 2, pricePerGpuHour: 1 }], version: 5 };
    const tb = tiebreakerJob(ran, 10);
    expect(tiebreakerId('g1', 2)).toBe('g1-r2');
    expect(tb).toMatchObject({ id: 'g1-r2', replicaGroup: 'g1', replicaIndex: 2, status: 'QUEUED', attempts: [], createdAt: 10, queuedAt: 10, version: 0, command: ['echo', '42'], verification: { replicas: 2 } });
    for (const k of ['webhook', 'nodeId', 'exitCode', 'startedAt', 'finishedAt', 'reason']) expect(tb).not.toHaveProperty(k);
  });

  it('leaves a plain job alone', () => {
    expect(replicaJobs(base())).toHaveLength(1);
    expect(replicaJobs(base())[0].replicaGroup).toBeUndefined();
  });

  it.each([[1], [6], [2.5]])('refuses %s replicas, and internal fields in the body', (replicas) => {
    expect(SubmitJobSchema.safeParse({ command: ['x'], resources: { gpus: 1 }, verification: { replicas } }).success).toBe(false);
  });

  it('keeps the group fields internal', () => {
    expect(SubmitJobSchema.safeParse({ command: ['x'], resources: { gpus: 1 }, replicaGroup: 'g' }).success).toBe(false);
    expect(SubmitJobSchema.safeParse({ command: ['x'], resources: { gpus: 1 }, verification: { replicas: 2, group: 'g' } }).success).toBe(false);
  });
});
