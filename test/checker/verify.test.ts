// Judging probe answers and canary output, benchmark ranges, score figures.
import { describe, expect, it } from 'vitest';
import { benchmarkVerdict, expectedRange, MODEL_PEAKS } from '../../functions/domain/checker/benchmarks';
import { canarySpec, judgeCanaryOutput } from '../../functions/domain/checker/canary';
import { challengeAnswer, probeRefusal, type ProbeAnswer } from '../../functions/domain/checker/probe';
import { percentile, rttPercentiles, uptime } from '../../functions/domain/checker/stats';
import { judgeAnswer, specMismatch } from '../../functions/domain/checker/verify';
import type { GpuDevice } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';

const gpus: GpuDevice[] = [
  { index: 0, uuid: 'GPU-a', model: 'A100', vramGb: 80 },
  { index: 1, uuid: 'GPU-b', model: 'A100', vramGb: 80 },
];
const probe = { nodeId: 'n1', nonce: 'ABCDEFGHIJKLMNOPQRSTUV', issuedAt: 1000 };
const answer = (over: Partial<ProbeAnswer> = {}): ProbeAnswer => ({
  nodeId: 'n1',
  nonce: probe.nonce,
  gpus,
  load: { running: 0, freeGpus: 2 },
  challenge: challengeAnswer(probe.nonce, ['GPU-a', 'GPU-b']),
  at: 1001,
  ...over,
});

describe('specMismatch', () => {
  it.each([
    ['the same GPUs in another order', [gpus[1], gpus[0]], undefined],
    ['VRAM within the driver’s rounding', [{ ...gpus[0], vramGb: 79 }, gpus[1]], undefined],
    ['one GPU more', [...gpus, { ...gpus[1], index: 2, uuid: 'GPU-c' }], 'reports 3 GPUs, registered 2'],
    ['one GPU less', [gpus[0]], 'reports 1 GPUs, registered 2'],
    ['another model', [{ ...gpus[0], model: 'H100' }, gpus[1]], 'GPU 0 reports model H100, registered A100'],
    ['less VRAM', [{ ...gpus[0], vramGb: 40 }, gpus[1]], 'GPU 0 reports 40 GB, registered 80 GB'],
    ['a swapped card (uuid)', [gpus[0], { ...gpus[1], uuid: 'GPU-z' }], 'GPU 1 uuid changed'],
  ])('%s', (_what, reported, problem) => expect(specMismatch(gpus, reported as GpuDevice[])).toBe(problem));
});

describe('judgeAnswer', () => {
  it('accepts the honest answer', () => {
    expect(judgeAnswer(gpus, probe, answer())).toMatchObject({ ok: true, specMatch: true, challengeOk: true, proof: false, reason: '' });
  });
  it.each([
    ['a spec mismatch is proof', answer({ gpus: [gpus[0]] }), { ok: false, specMatch: false, proof: true }],
    ['a wrong challenge is proof', answer({ challenge: challengeAnswer('other', ['GPU-a', 'GPU-b']) }), { ok: false, specMatch: true, challengeOk: false, proof: true }],
    ['another nonce is a replay, not proof', answer({ nonce: 'ZZZZZZZZZZZZZZZZZZZZZZ' }), { ok: false, proof: false, reason: 'answer is for another probe' }],
    ['another node is a replay, not proof', answer({ nodeId: 'n2' }), { ok: false, proof: false }],
  ])('%s', (_what, a, expected) => expect(judgeAnswer(gpus, probe, a)).toMatchObject(expected));

  it('flags an impossible benchmark without calling it proof', () => {
    expect(judgeAnswer(gpus, probe, answer({ bench: { tflops: 900 } }))).toMatchObject({ ok: true, benchFlag: expect.stringMatching(/above what a A100/) });
  });
});

describe('probeRefusal', () => {
  const seen = new Set(['used']);
  const base = { ownNodeId: 'n1', now: 100_000, seen: (n: string) => seen.has(n) };
  it.each([
    ['fresh', { ...probe, issuedAt: 100_000 }, base, undefined],
    ['59 s old', { ...probe, issuedAt: 41_000 }, base, undefined],
    ['61 s old', { ...probe, issuedAt: 39_000 }, base, 'stale'],
    ['61 s in the future', { ...probe, issuedAt: 161_000 }, base, 'stale'],
    ['another node', { ...probe, nodeId: 'n2', issuedAt: 100_000 }, base, 'wrong_node'],
    ['a nonce seen before', { ...probe, nonce: 'used', issuedAt: 100_000 }, base, 'replayed'],
    ['before the session named the node', { ...probe, issuedAt: 100_000 }, { ...base, ownNodeId: undefined }, 'not_ready'],
  ])('%s', (_what, p, ctx, refusal) => expect(probeRefusal(p, ctx)).toBe(refusal));
});

describe('benchmark ranges', () => {
  it.each([
    ['H100', 700, true],
    ['H100', 1100, false],
    ['A100', 250, true],
    ['A100', 40, false],
    ['T4', 45, true],
    ['A10G', 5000, true], // no published figures: never flagged
  ])('%s at %s TFLOPS ok=%s', (model, tflops, ok) => expect(benchmarkVerdict(model, tflops).ok).toBe(ok));

  it('has a source for every model and sensible ranges', () => {
    for (const [model, p] of Object.entries(MODEL_PEAKS)) {
      expect(p.source.length, model).toBeGreaterThan(10);
      const [lo, hi] = expectedRange(model)!;
      expect(lo).toBeLessThan(hi);
    }
  });
});

describe('canaries', () => {
  let i = 0;
  const seq = [0, 11_000, 20_000, 1, 2, 3, 4, 5, 6, 7];
  const rnd = (n: number) => seq[i++ % seq.length] % n;

  it('are ordinary, valid job bodies with a known answer', () => {
    const c = canarySpec('A100', undefined, rnd);
    expect(SubmitJobSchema.safeParse(c.body).success).toBe(true);
    expect(c.body).toMatchObject({ resources: { gpus: 1, gpuModels: ['A100'] }, maxAttempts: 1 });
    expect(c.body.name).toBeUndefined();
    const [a, b] = Object.values(c.body.env).map(Number);
    expect(c.expected).toBe(String(a * b));
    expect(a * b).toBeLessThan(2 ** 31);
  });

  it.each([
    [['12345'], 'ok'],
    ['starting\n12345\ndone'.split('\n'), 'ok'],
    [['12346'], 'wrong'],
    [['12345', '99'], 'wrong'],
    [[], 'missing'],
    [['sh: expr: not found'], 'missing'],
  ])('output %j is %s', (lines, verdict) => expect(judgeCanaryOutput(lines, '12345').verdict).toBe(verdict));
});

describe('score figures', () => {
  const rows = [
    { at: 10, kind: 'probe', ok: true, rttMs: 5 },
    { at: 20, kind: 'probe', ok: false, rttMs: 3000 },
    { at: 30, kind: 'probe', ok: true, rttMs: 7 },
    { at: 40, kind: 'canary', ok: true },
    { at: 50, kind: 'probe', ok: true, rttMs: 9 },
  ];
  it('uptime counts probes only, in the window', () => {
    expect(uptime(rows, 0)).toBe(0.75);
    expect(uptime(rows, 25)).toBe(1);
    expect(uptime(rows, 60)).toBeNull();
  });
  it('percentiles by nearest rank over good probes', () => {
    expect(rttPercentiles(rows, 0)).toEqual({ p50: 7, p95: 9 });
    expect(percentile([], 50)).toBeNull();
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
  });
});
