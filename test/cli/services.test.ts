// gpupool serve and gpupool services: the bodies they send, what they print, their exit codes.
import { afterEach, describe, expect, it } from 'vitest';
import { buildServiceBody, buildServicePatch, parseReplicas } from '../../bin/cli/service-spec';
import { UsageError } from '../../bin/cli/errors';
import { harness, type Harness } from './fake-io';

const env = { GPUPOOL_API_URL: 'http://api.test', GPUPOOL_API_KEY: 'gp_k' };
const view = (over: Record<string, unknown> = {}) => ({
  id: 'svc1',
  name: 'chat',
  status: 'PENDING',
  url: 'http://api.test/s/svc1',
  generation: 1,
  replicas: [] as unknown[],
  replicasWanted: { min: 2, max: 2, desired: 2 },
  createdAt: 1,
  ...over,
});
const replica = (id: string, ready: boolean) => ({ id, nodeId: 'n1', status: 'RUNNING', ready, endpoint: 'http://10.0.0.1:9000', generation: 1 });

describe('service bodies', () => {
  it('maps every serve option', () => {
    const body = buildServiceBody(['python', 'serve.py'], { name: 'chat', port: '8000', image: 'img', env: ['A=1', 'B'], gpus: '2', gpuModel: ['H100,A100'], minVram: '80', region: ['eu'], maxPrice: '2.5', min: '1', max: '4', readiness: '/health', targetInflight: '8' }, { B: 'two' });
    expect(body).toEqual({
      name: 'chat',
      image: 'img',
      command: ['python', 'serve.py'],
      env: { A: '1', B: 'two' },
      port: 8000,
      replicas: { min: 1, max: 4 },
      resources: { gpus: 2, gpuModels: ['H100', 'A100'], minVramGb: 80 },
      placement: { regions: ['eu'] },
      readiness: { path: '/health' },
      maxPricePerGpuHour: 2_500_000,
      targetInflight: 8,
    });
  });

  it('refuses what the API would refuse, before sending anything', () => {
    expect(() => buildServiceBody(['x'], { port: '80' })).toThrow(UsageError);
    expect(() => buildServiceBody(['x'], { name: 'a' })).toThrow(/--port is required/);
    expect(() => buildServiceBody(['x'], { name: 'a', port: '70000' })).toThrow(/--port/);
    expect(() => buildServiceBody([], { name: 'a', port: '80' })).toThrow(/nothing to serve/);
    expect(() => buildServiceBody(['x'], { name: 'a', port: '80', readiness: 'health' })).toThrow(/starting with \//);
    expect(() => parseReplicas({ replicas: '2', min: '1' }, true)).toThrow(/not both/);
    expect(() => parseReplicas({ min: '3', max: '2' }, true)).toThrow(/must not be above/);
    expect(() => parseReplicas({ replicas: '17' }, true)).toThrow(/between 0 and 16/);
    expect(() => buildServicePatch({})).toThrow(/nothing to change/);
  });

  it('fills the replica range sensibly', () => {
    expect(parseReplicas({}, true)).toEqual({ min: 1, max: 1 });
    expect(parseReplicas({}, false)).toBeUndefined();
    expect(parseReplicas({ replicas: '0' }, false)).toEqual({ min: 0, max: 0 });
    expect(parseReplicas({ max: '3' }, false)).toEqual({ min: 1, max: 3 });
    expect(parseReplicas({ min: '2' }, false)).toEqual({ min: 2, max: 2 });
    expect(buildServicePatch({ image: 'img:2', env: ['A=1'] })).toEqual({ image: 'img:2', env: { A: '1' } });
  });
});

describe('gpupool serve and services', () => {
  let h: Harness;
  afterEach(() => h?.cleanup());

  it('serve posts the service, shows the token once, and waits until the wanted replicas are ready', async () => {
    let polls = 0;
    h = harness(
      {
        'POST /v1/services': () => ({ status: 201, body: { service: view(), token: 'gpst_secret' } }),
        'GET /v1/services/{id}': () => ({ body: { service: ++polls < 2 ? view({ replicas: [replica('svc1-s0', true)] }) : view({ status: 'RUNNING', replicas: [replica('svc1-s0', true), replica('svc1-s1', true)] }) } }),
      },
      env,
    );
    const r = await h.run(['serve', '--name', 'chat', '--port', '8000', '--replicas', '2', '--poll-interval', '10', '--', 'python', '-m', 'http.server']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('svc1\n');
    expect(r.stderr).toMatch(/gpst_secret/);
    expect(r.stderr).toMatch(/pending: 1\/2 replicas ready/);
    expect(r.stderr).toMatch(/running: 2\/2 replicas ready/);
    const post = h.requests.find((q) => q.method === 'POST')!;
    expect(post.body).toMatchObject({ name: 'chat', port: 8000, replicas: { min: 2, max: 2 }, command: ['python', '-m', 'http.server'], readiness: { path: '/' } });
  });

  it('serve exits 1 with the reason when the service is suspended', async () => {
    h = harness(
      {
        'POST /v1/services': () => ({ status: 201, body: { service: view(), token: 't' } }),
        'GET /v1/services/{id}': () => ({ body: { service: view({ status: 'SUSPENDED', statusReason: 'insufficient credits' }) } }),
      },
      env,
    );
    const r = await h.run(['serve', '--name', 'chat', '--port', '80', '--poll-interval', '10', '--', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SUSPENDED: insufficient credits/);
  });

  it('ls, get, scale, update, logs and rm speak to the right paths', async () => {
    const s = view({ status: 'RUNNING', replicas: [replica('svc1-s0', true), replica('svc1-s1', false)] });
    h = harness(
      {
        'GET /v1/services': () => ({ body: { items: [s], nextCursor: null } }),
        'GET /v1/services/{id}': () => ({ body: { service: s } }),
        'PATCH /v1/services/{id}': () => ({ body: { service: s } }),
        'DELETE /v1/services/{id}': () => ({ status: 202, body: { service: { ...s, status: 'DELETING' } } }),
        'GET /v1/jobs/{id}/logs': (q) => ({ body: { items: [{ seq: 0, stream: 'stdout', text: `hello from ${q.path.split('/')[3]}`, ts: 1 }], last: 0 } }),
      },
      env,
    );
    expect((await h.run(['services', 'ls'])).stdout).toMatch(/svc1\s+chat\s+RUNNING\s+1\/2/);
    const got = await h.run(['services', 'get', 'svc1']);
    expect(got.stdout).toMatch(/1 ready of 2 wanted \(min 2, max 2\)/);
    expect(got.stdout).toMatch(/svc1-s1\s+n1\s+RUNNING\s+no/);
    expect((await h.run(['services', 'scale', 'svc1', '--min', '1', '--max', '3'])).code).toBe(0);
    expect((await h.run(['services', 'update', 'svc1', '--image', 'img:2'])).stdout).toMatch(/rolling update/);
    const logs = await h.run(['services', 'logs', 'svc1']);
    expect(logs.stdout).toMatch(/svc1-s0 \| hello from svc1-s0\n.*svc1-s1 \| hello from svc1-s1/s);
    expect((await h.run(['services', 'rm', 'svc1'])).stdout).toMatch(/deleting/);
    const patches = h.requests.filter((q) => q.method === 'PATCH').map((q) => q.body);
    expect(patches).toEqual([{ replicas: { min: 1, max: 3 } }, { image: 'img:2' }]);
    expect(h.requests.some((q) => q.method === 'DELETE' && q.path === '/v1/services/svc1')).toBe(true);
    expect((await h.run(['services', 'scale', 'svc1'])).code).toBe(2);
  });

  it('ls reads the list as the API answers it: no replicas on list items, nextCursor left out on the last page', async () => {
    const { replicas: _r, ...listed } = view({ status: 'RUNNING' });
    h = harness({ 'GET /v1/services': () => ({ body: { items: [listed] } }) }, env);
    const r = await h.run(['services', 'ls']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/svc1\s+chat\s+RUNNING\s+-\/2/);
  });
});
