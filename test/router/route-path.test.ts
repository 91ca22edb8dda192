// The path a node's ingress sees is always inside /s/<serviceId>/, whatever the caller wrote (property test),
// and the ordering rules of replicas (pure).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderReplicas, parseLatLon } from '../../functions/router/replica-order';
import { resolveRest, serviceTarget } from '../../functions/router/route-path';

const segment = fc.oneof(fc.constantFrom('..', '.', '%2e%2e', '%2E.', '.%2e', '%2e', '', 'v1', 'jobs', 'a\\..\\..', '..\\'), fc.string({ maxLength: 6 }));

describe('route path', () => {
  it('never leaves the service prefix, for any mix of dot segments, encodings and backslashes', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 12 }), fc.string({ maxLength: 8 }), (segs, q) => {
        const raw = `/s/svc1/${segs.join('/')}${q.includes('?') ? '' : `?${q}`}`;
        const t = serviceTarget(raw, 'localhost');
        expect(t?.serviceId).toBe('svc1');
        const path = t!.upstreamPath.split('?')[0];
        expect(path.startsWith('/s/svc1/')).toBe(true);
        // what a URL parser at the node would make of it stays inside too
        expect(new URL(path, 'http://node').pathname.startsWith('/s/svc1/')).toBe(true);
        for (const s of path.split('/')) expect(/^(\.|%2e){1,2}$/i.test(s)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('resolves like a URL would, clamped at the root', () => {
    expect(resolveRest('/a/b/../c')).toBe('/a/c');
    expect(resolveRest('/../../x')).toBe('/x');
    expect(resolveRest('/a/..')).toBe('/');
    expect(resolveRest('')).toBe('/');
  });

  it('refuses ids that are not one plain segment', () => {
    for (const bad of ['/s/', '/s/../x', '/s/a.b/x', '/s/%2e%2e/x', '/x/svc1/', 'svc1', '/s/-a/']) expect(serviceTarget(bad, undefined), bad).toBeUndefined();
  });
});

describe('replica order', () => {
  const r = (id: string, o: { lat?: number; inflight?: number; suspect?: boolean } = {}) => ({ id, inflight: o.inflight ?? 0, suspect: o.suspect ?? false, ...(o.lat !== undefined ? { location: { lat: o.lat, lon: 0 } } : {}) });
  it('nearest band first, then fewest in flight, unknown locations after located ones, suspects last', () => {
    const from = { lat: 0, lon: 0 };
    const got = orderReplicas([r('far', { lat: 40 }), r('unknown'), r('near-busy', { lat: 0.1, inflight: 3 }), r('near-idle', { lat: 0.2 }), r('suspect', { lat: 0, suspect: true })], from).map((x) => x.id);
    expect(got).toEqual(['near-idle', 'near-busy', 'far', 'unknown', 'suspect']);
  });
  it('takes turns between equal replicas', () => {
    const reps = [r('a'), r('b')];
    expect([0, 1, 2, 3].map((k) => orderReplicas(reps, undefined, k)[0].id)).toEqual(['a', 'b', 'a', 'b']);
  });
  it('parses ROUTER_LOCATION', () => {
    expect(parseLatLon('53.35,-6.26')).toEqual({ lat: 53.35, lon: -6.26 });
    expect(parseLatLon('91,0')).toBeUndefined();
    expect(parseLatLon('x')).toBeUndefined();
  });
});
