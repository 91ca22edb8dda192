// Measured latency: the checker smooths each node's probe round trip, and the matcher prefers low ones.
import { describe, expect, it } from 'vitest';
import { afterProbe, RTT_ALPHA } from '../../functions/domain/checker/reputation';
import type { Candidate, MatchJob } from '../../functions/domain/matcher/filters';
import { rank } from '../../functions/domain/matcher/pipeline';

const node = (id: string, rttMs?: number): Candidate => ({
  id, providerId: 'p', status: 'ONLINE', gpuModel: 'A100', vramGb: 80, freeGpus: 2, totalGpus: 2, pricePerGpuHour: 2_000_000, region: 'eu-west', reputation: 0.5,
  ...(rttMs === undefined ? {} : { probe: { consecutiveFailures: 0, consecutiveSuccesses: 1, lastAt: 0, rttMs } }),
});
const job: MatchJob = { id: 'j', accountId: 'c', resources: { gpus: 1, nodes: 1 }, attempts: [] };
const zero = () => 0;

describe('probe round trip', () => {
  const n = { status: 'ONLINE' as const, reputation: 0.5 };
  it('takes the first good probe as it is, then smooths', () => {
    const first = afterProbe(n, { ok: true, proof: false, rttMs: 40 }, 1, 60_000).probe;
    expect(first.rttMs).toBe(40);
    const next = afterProbe({ ...n, probe: first }, { ok: true, proof: false, rttMs: 140 }, 2, 60_000).probe;
    expect(next.rttMs).toBe(Math.round(40 + RTT_ALPHA * 100));
  });
  it('ignores the round trip of a failed probe', () => {
    const first = afterProbe(n, { ok: true, proof: false, rttMs: 40 }, 1, 60_000).probe;
    expect(afterProbe({ ...n, probe: first }, { ok: false, proof: false, rttMs: 2000 }, 2, 60_000).probe.rttMs).toBe(40);
  });
});

describe('latency scorer', () => {
  it('ranks the node with the lower measured round trip first, all else equal', () => {
    const r = rank(job, [node('far', 180), node('near', 12)], zero);
    expect(r.ranked.map((x) => x.node.id)).toEqual(['near', 'far']);
  });
  it('puts a node not measured yet between a fast and a slow one', () => {
    const r = rank(job, [node('slow', 300), node('new'), node('fast', 10)], zero);
    expect(r.ranked.map((x) => x.node.id)).toEqual(['fast', 'new', 'slow']);
  });
});
