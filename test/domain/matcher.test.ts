import { describe, expect, it } from 'vitest';
import { explain, rank } from '../../functions/domain/matcher/pipeline';
import type { Candidate, MatchJob } from '../../functions/domain/matcher/filters';
import { haversineKm } from '../../functions/domain/matcher/scorers';

const node = (over: Partial<Candidate>): Candidate => ({
  id: 'n',
  providerId: 'p',
  status: 'ONLINE',
  gpuModel: 'A100',
  vramGb: 80,
  freeGpus: 2,
  totalGpus: 2,
  pricePerGpuHour: 2_000_000,
  region: 'eu-west',
  reputation: 0.5,
  ...over,
});
const job = (over: Partial<MatchJob> = {}): MatchJob => ({ id: 'j', accountId: 'c', resources: { gpus: 2, nodes: 1 }, attempts: [], ...over });
const zero = () => 0;

describe('matcher', () => {
  it.each<[string, Partial<MatchJob>, Partial<Candidate>, string]>([
    ['state', {}, { status: 'OFFLINE' }, 'node offline'],
    ['capacity', {}, { freeGpus: 1 }, 'fewer than 2 free GPUs'],
    ['model', { resources: { gpus: 1, nodes: 1, gpuModels: ['H100'] } }, {}, 'model not in [H100]'],
    ['vram', { resources: { gpus: 1, nodes: 1, minVramGb: 90 } }, {}, 'less than 90 GB VRAM'],
    ['price', { maxPricePerGpuHour: 1 }, {}, 'price above cap'],
    ['region', { placement: { regions: ['us-east'] } }, {}, 'region not allowed'],
    ['self', { accountId: 'p' }, {}, 'node belongs to the consumer'],
    ['compute capability', { resources: { gpus: 1, nodes: 1, minComputeCapability: '9.0' } }, { gpus: [{ index: 0, uuid: 'u', model: 'A100', vramGb: 80, computeCap: '8.0' }] }, 'compute capability below 9.0'],
    ['cuda', { resources: { gpus: 1, nodes: 1, minCudaVersion: '12.4' } }, { cudaVersion: '12.2' }, 'CUDA below 12.4'],
    ['labels', { placement: { labels: { tier: 'secure' } } }, { labels: { tier: 'community' } }, 'labels do not match'],
    ['reputation', { placement: { minReputation: 0.9 } }, { reputation: 0.5 }, 'reputation below floor'],
  ])('filter %s rejects with its reason', (_name, j, n, reason) => {
    const r = rank(job(j), [node(n)], zero);
    expect(r.ranked).toHaveLength(0);
    expect(r.rejected).toEqual({ [reason]: 1 });
  });

  it('avoids a node that lost the job, unless no other node fits', () => {
    const lost = { attempts: [{ id: 'a', n: 0, nodeId: 'n', status: 'LOST' as const, assignedAt: 0, pricePerGpuHour: 0 }] };
    const both = rank(job(lost), [node({ id: 'n', pricePerGpuHour: 1 }), node({ id: 'other', pricePerGpuHour: 9_000_000 })], zero);
    expect(both.ranked.map((x) => x.node.id)).toEqual(['other']);
    expect(both.rejected).toEqual({ 'already failed this job': 1 });
    const only = rank(job(lost), [node({ id: 'n' })], zero);
    expect(only.ranked.map((x) => x.node.id)).toEqual(['n']);
  });

  it("spreads a service's replicas: another provider first, then another node of the same provider, the same node last", () => {
    const spread = { resources: { gpus: 1, nodes: 1 }, serviceSpread: { nodes: ['busy'], providers: ['p'] } };
    // the cheap ones are on the replica's node and provider: a dearer node of another provider wins
    const all = [node({ id: 'busy', pricePerGpuHour: 1 }), node({ id: 'sameProvider', pricePerGpuHour: 2 }), node({ id: 'elsewhere', providerId: 'q', pricePerGpuHour: 9_000_000 })];
    expect(rank(job(spread), all, zero).ranked.map((x) => x.node.id)).toEqual(['elsewhere']);
    // no other provider: another node of the same provider, not the replica's own node
    expect(rank(job(spread), all.slice(0, 2), zero).ranked.map((x) => x.node.id)).toEqual(['sameProvider']);
    // a pool of one node still runs the replica
    expect(rank(job(spread), all.slice(0, 1), zero).ranked.map((x) => x.node.id)).toEqual(['busy']);
  });

  it('gives up a soft preference only when it turned nodes away: a verification replica keeps off a node that lost it before it gives up providers', () => {
    const lost = { attempts: [{ id: 'a', n: 0, nodeId: 'lostIt', status: 'LOST' as const, assignedAt: 0, pricePerGpuHour: 0 }] };
    const j = job({ ...lost, replicaAvoid: { nodes: ['sibling'], providers: ['p'] } });
    // every node is of the sibling's provider: the one that did not lose the job is chosen
    const r = rank(j, [node({ id: 'lostIt', pricePerGpuHour: 1 }), node({ id: 'fresh', pricePerGpuHour: 5_000_000 }), node({ id: 'sibling' })], zero);
    expect(r.ranked.map((x) => x.node.id)).toEqual(['fresh']);
  });

  it('ranks the cheapest first and explains rejections', () => {
    const nodes = [node({ id: 'dear', pricePerGpuHour: 3_000_000 }), node({ id: 'cheap', pricePerGpuHour: 1_000_000 }), node({ id: 'full', freeGpus: 0 })];
    const r = rank(job(), nodes, zero);
    expect(r.ranked.map((x) => x.node.id)).toEqual(['cheap', 'dear']);
    expect(explain(r)).toBe('2 of 3 nodes fit: 1 fewer than 2 free GPUs');
  });

  it('prefers healthy nodes to degraded ones and near ones to far ones at equal price', () => {
    const r = rank(job(), [node({ id: 'deg', status: 'DEGRADED' }), node({ id: 'ok' })], zero);
    expect(r.ranked[0].node.id).toBe('ok');
    const berlin = { lat: 52.5, lon: 13.4 };
    const near = rank(job({ placement: { near: berlin } }), [node({ id: 'syd', location: { lat: -33.9, lon: 151.2 } }), node({ id: 'ams', location: { lat: 52.4, lon: 4.9 } })], zero);
    expect(near.ranked[0].node.id).toBe('ams');
  });

  it('passes nodes that meet capability, CUDA, label and reputation floors', () => {
    const j = job({
      resources: { gpus: 1, nodes: 1, minComputeCapability: '8.9', minCudaVersion: '12.2' },
      placement: { labels: { tier: 'secure' }, minReputation: 0.8 },
    });
    const n = node({ gpus: [{ index: 0, uuid: 'u', model: 'H100', vramGb: 80, computeCap: '9.0' }], cudaVersion: '12.10', labels: { tier: 'secure', x: 'y' }, reputation: 0.85 });
    expect(rank(j, [n], zero).ranked).toHaveLength(1);
  });

  it('keeps work off process-runtime nodes unless the deployment allows them; an agent that did not say counts as process', () => {
    const nodes = [node({ id: 'proc', runtime: 'process', pricePerGpuHour: 1 }), node({ id: 'old', pricePerGpuHour: 2 }), node({ id: 'dock', runtime: 'docker' })];
    const refused = rank(job({ runtimePolicy: { allowProcess: false } }), nodes, zero);
    expect(refused.ranked.map((r) => r.node.id)).toEqual(['dock']);
    expect(refused.rejected).toEqual({ 'process runtime (jobs not isolated; this pool places work on docker nodes only)': 2 });
    const none = rank(job({ runtimePolicy: { allowProcess: false } }), nodes.slice(0, 2), zero);
    expect(explain(none)).toBe('0 of 2 nodes fit: 2 process runtime (jobs not isolated; this pool places work on docker nodes only)');
    // allowed (the local stack), or no deployment rule at all: the cheapest node wins as before
    expect(rank(job({ runtimePolicy: { allowProcess: true } }), nodes, zero).ranked[0].node.id).toBe('proc');
    expect(rank(job(), nodes, zero).ranked[0].node.id).toBe('proc');
  });

  it('computes great-circle distances', () => {
    expect(haversineKm({ lat: 52.52, lon: 13.405 }, { lat: 48.8566, lon: 2.3522 })).toBeCloseTo(878, -1);
  });
});
