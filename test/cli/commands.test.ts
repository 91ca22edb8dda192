// Each command against a stubbed fetch: the request it sends, what it prints, its exit code.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Handler, type Harness } from './fake-io';

let h: Harness;
afterEach(() => h?.cleanup());

const env = { GPUPOOL_API_URL: 'http://api.test', GPUPOOL_API_KEY: 'gp_k' };
const problem = (status: number, title: string, detail: string, errors?: { path: string; message: string }[]) => ({
  status,
  body: { type: `https://gpupool.dev/problems/x`, title, status, detail, ...(errors ? { errors } : {}) },
});

describe('errors', () => {
  it('prints the problem as `error: <title>: <detail>` with each field error, and exits 1', async () => {
    h = harness({ 'POST /v1/jobs': () => problem(400, 'Bad Request', 'invalid body', [{ path: 'env.1BAD', message: 'Invalid key in record' }]) }, env);
    const r = await h.run(['run', '--', 'echo']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: Bad Request: invalid body\n  - env.1BAD: Invalid key in record\n');
    expect(r.stdout).toBe('');
  });

  it('makes a problem of answers that are not problem documents', async () => {
    h = harness({ 'GET /v1/balance': () => ({ status: 502, body: '<html>Bad gateway</html>', contentType: 'text/html' }) }, env);
    const r = await h.run(['balance']);
    expect(r).toMatchObject({ code: 1, stderr: 'error: Bad Gateway: <html>Bad gateway</html>\n' });
  });

  it('says how to log in when there is no profile', async () => {
    h = harness({});
    const r = await h.run(['jobs', 'ls']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: not logged in .*gpupool login --api URL --key KEY/);
  });

  it('uses exit code 2 for usage errors, 0 for help', async () => {
    h = harness({}, env);
    expect((await h.run(['nope'])).code).toBe(2);
    expect((await h.run(['jobs', 'get'])).code).toBe(2);
    expect((await h.run(['jobs'])).code).toBe(2);
    expect((await h.run(['accounts', 'create', '--name', 'x', '--role', 'root'])).code).toBe(2);
    const help = await h.run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: gpupool/);
    expect((await h.run(['run', '--help'])).stdout).toMatch(/--gpu-model <model>/);
    expect(h.requests).toHaveLength(0);
  });
});

describe('login', () => {
  it('checks the key with GET /v1/balance, then saves the profile 0600 and makes it current', async () => {
    h = harness({ 'GET /v1/balance': () => ({ body: { available: 2_000_000, held: 0, staked: 0 } }), 'GET /v1/accounts/{id}': () => ({ body: { id: 'acc1' } }) });
    const r = await h.run(['login', '--api', 'http://api.test/', '--key', 'gp_abc', '--account', 'acc1', '--profile', 'work']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Logged in to http:\/\/api.test as profile "work" \(account acc1\); 2.00 credits available/);
    expect(h.requests.map((q) => `${q.method} ${q.path} ${q.headers['x-api-key']}`)).toEqual(['GET /v1/balance gp_abc', 'GET /v1/accounts/acc1 gp_abc']);
    const file = path.join(h.env.XDG_CONFIG_HOME!, 'gpupool', 'config.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ current: 'work', profiles: { work: { apiUrl: 'http://api.test', apiKey: 'gp_abc', accountId: 'acc1' } } });
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    // later commands use it
    await h.run(['balance']);
    expect(h.requests.at(-1)?.headers['x-api-key']).toBe('gp_abc');
  });

  it('saves nothing when the key is refused', async () => {
    h = harness({ 'GET /v1/balance': () => problem(401, 'Unauthorized', 'missing or unknown API key') });
    const r = await h.run(['login', '--api', 'http://api.test', '--key', 'bad']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Unauthorized: missing or unknown API key \(the key was not saved\)/);
    expect(existsSync(path.join(h.env.XDG_CONFIG_HOME!, 'gpupool', 'config.json'))).toBe(false);
  });

  it('needs a URL and a key', async () => {
    h = harness({});
    expect((await h.run(['login', '--key', 'k'])).code).toBe(2);
    expect((await h.run(['login', '--api', 'http://x'])).code).toBe(2);
  });
});

describe('offers', () => {
  const offers: Handler = () => ({
    body: {
      items: [
        { gpuModel: 'H100', vramGb: 80, region: 'eu-central', nodes: 1, freeGpus: 1, minPricePerGpuHour: 2_900_000, medianPricePerGpuHour: 2_900_000, medianReputation: 0.5 },
        { gpuModel: 'A100', vramGb: 80, region: 'eu-west', nodes: 2, freeGpus: 3, minPricePerGpuHour: 1_800_000, medianPricePerGpuHour: 1_850_000, medianReputation: 0.875 },
      ],
    },
  });

  it('maps the filters to the query (prices typed in credits) and prints a table, cheapest first', async () => {
    h = harness({ 'GET /v1/offers': offers }, env);
    const r = await h.run(['offers', '--gpu', 'H100', '--gpus', '8', '--region', 'eu-west', '--max-price', '2.5']);
    expect(r.code).toBe(0);
    expect(h.requests[0].query).toEqual({ gpuModel: 'H100', gpus: '8', region: 'eu-west', maxPrice: '2500000' });
    expect(r.stdout).toBe(
      [
        'GPU    VRAM  REGION      NODES  FREE GPUS  MIN PRICE  MEDIAN PRICE  REPUTATION',
        'A100  80 GB  eu-west         2          3       1.80          1.85        0.88',
        'H100  80 GB  eu-central      1          1       2.90          2.90        0.50',
        '',
      ].join('\n'),
    );
  });

  it('--json prints the raw answer; colour only on a TTY without NO_COLOR', async () => {
    h = harness({ 'GET /v1/offers': offers }, env);
    const j = await h.run(['offers', '--json']);
    expect(JSON.parse(j.stdout).items[0].minPricePerGpuHour).toBe(2_900_000);
    expect((await h.run(['offers'], { tty: true })).stdout).toContain('\x1b[1m');
    expect((await h.run(['offers'], { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\x1b[');
  });
});

describe('jobs, nodes, keys, accounts', () => {
  const job = { id: 'j1', name: 'train', status: 'FAILED', reason: 'EXIT_NONZERO', nodeId: 'n1', resources: { gpus: 2 }, command: ['sh', '-c', 'exit 3'], attempts: [{ id: 'a1', n: 0, nodeId: 'n1', status: 'FAILED', assignedAt: 1, startedAt: 2, finishedAt: 1002, exitCode: 3 }], createdAt: 1, startedAt: 2, finishedAt: 1002, exitCode: 3, cost: { charged: 1_000, gpuSeconds: 2 } };

  it('jobs ls passes limit and cursor and shows the next page', async () => {
    h = harness({ 'GET /v1/jobs': () => ({ body: { items: [job], nextCursor: 'c2' } }) }, env);
    const r = await h.run(['jobs', 'ls', '--limit', '5', '--cursor', 'c1']);
    expect(h.requests[0].query).toEqual({ limit: '5', cursor: 'c1' });
    expect(r.stdout).toMatch(/^ID\s+NAME\s+STATUS\s+GPUS\s+NODE\s+CREATED\s+RUNTIME\s+EXIT\s+COST\nj1\s+train\s+FAILED\s+2\s+n1\s+.* ago\s+1.0s\s+3\s+<0.01\n$/);
    expect(r.stderr).toMatch(/gpupool jobs ls --cursor c2/);
    expect(JSON.parse((await h.run(['jobs', 'ls', '--json'])).stdout)).toEqual({ items: [job], nextCursor: 'c2' });
  });

  it('jobs get shows the job and its attempts; cancel sends DELETE', async () => {
    h = harness({ 'GET /v1/jobs/{id}': () => ({ body: { job } }), 'DELETE /v1/jobs/{id}': () => ({ status: 202, body: { job: { ...job, status: 'CANCELLED' } } }) }, env);
    const g = await h.run(['jobs', 'get', 'j1']);
    expect(g.stdout).toMatch(/status:\s+FAILED \(EXIT_NONZERO\)/);
    expect(g.stdout).toMatch(/command:\s+sh -c 'exit 3'/);
    expect(g.stdout).toMatch(/ATTEMPT\s+NODE\s+STATUS[\s\S]*a1\s+n1\s+FAILED/);
    const c = await h.run(['jobs', 'cancel', 'j1']);
    expect(h.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/v1/jobs/j1' });
    expect(c.stdout).toBe('job j1 cancelled\n');
  });

  it('jobs logs prints stdout lines to stdout and the others to stderr', async () => {
    h = harness({
      'GET /v1/jobs/{id}/logs': (q) => ({
        body: q.query.after === '-1' ? { items: [{ seq: 1, attempt: 0, stream: 'stdout', text: 'out', ts: 1 }, { seq: 2, attempt: 0, stream: 'stderr', text: 'err', ts: 1 }], last: 2 } : { items: [], last: 2 },
      }),
    }, env);
    const r = await h.run(['jobs', 'logs', 'j1']);
    expect(r).toMatchObject({ code: 0, stdout: 'out\n', stderr: 'err\n' });
  });

  it('nodes drain/undrain PATCH {drain}; scores shows the problem when the route is missing', async () => {
    const node = { id: 'n1', name: 'box', status: 'DRAINING', region: 'r', gpuModel: 'A100', vramGb: 80, totalGpus: 2, freeGpus: 2, pricePerGpuHour: 1_000_000, reputation: 0.5 };
    h = harness({ 'PATCH /v1/nodes/{id}': (q) => ({ body: { node: { ...node, status: q.body.drain ? 'DRAINING' : 'ONLINE' } } }) }, env);
    expect((await h.run(['nodes', 'drain', 'n1'])).stdout).toMatch(/node n1 is DRAINING/);
    expect(h.requests.at(-1)).toMatchObject({ method: 'PATCH', path: '/v1/nodes/n1', body: { drain: true } });
    expect((await h.run(['nodes', 'undrain', 'n1'])).stdout).toMatch(/node n1 is ONLINE/);
    expect(h.requests.at(-1)?.body).toEqual({ drain: false });
    const s = await h.run(['nodes', 'scores', 'n1']);
    expect(s).toMatchObject({ code: 1, stderr: 'error: Not Found: no route for /v1/nodes/n1/scores\n' });
  });

  it('keys need an account: --account, or the one saved in the profile', async () => {
    h = harness({
      'POST /v1/accounts/{id}/keys': () => ({ status: 201, body: { keyId: 'k2', apiKey: 'gp_new', createdAt: 1 } }),
      'GET /v1/accounts/{id}/keys': () => ({ body: { items: [{ keyId: 'k1', role: 'consumer', nodeId: null, createdAt: 0, revokedAt: null }], nextCursor: null } }),
      'DELETE /v1/keys/{keyId}': () => ({ status: 204 }),
    }, env);
    const none = await h.run(['keys', 'ls']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--account ID/);
    const c = await h.run(['keys', 'create', '--account', 'acc1']);
    expect(c.stdout).toBe('gp_new\n');
    expect(h.requests.at(-1)).toMatchObject({ method: 'POST', path: '/v1/accounts/acc1/keys' });
    const l = await h.run(['keys', 'ls'], { env: { GPUPOOL_ACCOUNT_ID: 'acc9' } });
    expect(h.requests.at(-1)?.path).toBe('/v1/accounts/acc9/keys');
    expect(l.stdout).toMatch(/^KEY ID\s+ROLE\s+NODE\s+CREATED\s+REVOKED\nk1\s+consumer\s+-\s+1970-01-01T00:00:00Z\s+-\n$/);
    const r = await h.run(['keys', 'revoke', 'k1']);
    expect(r.code).toBe(0);
    expect(h.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/v1/keys/k1' });
  });

  it('a key answer without its secret (an idempotent replay: apiKey null) is an error that says what to do, never "null" as the key', async () => {
    // the first try made the key but its answer was lost (503 here); the retry, with the same Idempotency-Key, gets the replay
    let tries = 0;
    h = harness({
      'POST /v1/accounts/{id}/keys': () => (++tries === 1 ? { status: 503, body: { title: 'Service Unavailable', status: 503 } } : { status: 201, body: { keyId: 'k3', apiKey: null, createdAt: 1, secretShownOnce: true } }),
      'POST /v1/accounts': () => ({ status: 201, body: { account: { id: 'acc2', name: 'bob', role: 'consumer' }, apiKey: null, keyId: 'k4', secretShownOnce: true } }),
    }, env);
    const k = await h.run(['keys', 'create', '--account', 'acc1']);
    expect(k.code).toBe(1);
    expect(k.stdout).toBe('');
    expect(k.stderr).toMatch(/key k3 .*answer was lost.*gpupool keys revoke k3/);
    const [first, retry] = h.requests.filter((q) => q.path === '/v1/accounts/acc1/keys');
    expect(first.headers['idempotency-key']).toEqual(expect.any(String));
    expect(retry.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
    const a = await h.run(['accounts', 'create', '--name', 'bob', '--role', 'consumer']);
    expect(a.code).toBe(1);
    expect(a.stdout).toBe('');
    expect(a.stderr).toMatch(/key k4 .*gpupool keys revoke k4/);
    expect(a.stderr).not.toMatch(/null/);
    expect(h.requests.at(-1)?.headers['idempotency-key']).toEqual(expect.any(String));
  });

  it('accounts create and credit (amounts typed in credits)', async () => {
    h = harness({
      'POST /v1/accounts': (q) => ({ status: 201, body: { account: { id: 'acc1', name: q.body.name, role: q.body.role }, apiKey: 'gp_x', keyId: 'k1' } }),
      'POST /v1/accounts/{id}/credits': (q) => ({ status: 201, body: { accountId: 'acc1', available: q.body.amount, held: 0, staked: 0 } }),
    }, env);
    const c = await h.run(['accounts', 'create', '--name', 'alice', '--role', 'consumer']);
    expect(h.requests.at(-1)?.body).toEqual({ name: 'alice', role: 'consumer' });
    expect(c.stdout).toMatch(/api key:\s+gp_x/);
    const m = await h.run(['accounts', 'credit', 'acc1', '--amount', '12.5', '--memo', 'welcome']);
    expect(h.requests.at(-1)?.body).toEqual({ amount: 12_500_000, memo: 'welcome' });
    expect(m.stdout).toBe('credited 12.50 to acc1; available now 12.50\n');
    expect((await h.run(['accounts', 'credit', 'acc1', '--amount', '-3'])).code).toBe(2);
  });
});
