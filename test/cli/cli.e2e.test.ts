// The gpupool CLI as a user runs it: a real subprocess against the local stack (in memory, free ports)
// with one real agent. Each CLI process gets its own temp HOME and config dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/api';
import { CONSUMER_FUNDS, startPool, type Pool } from '../helpers/local-pool';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsx = createRequire(import.meta.url).resolve('tsx');
const entry = path.join(root, 'bin/gpupool.ts');

let pool: Pool;
let consumer: Awaited<ReturnType<Pool['newAccount']>>;
let provider: Awaited<ReturnType<Pool['newAccount']>>;
let nodeId: string;
let home: string;

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI (asynchronously: the stack it talks to lives in this process). */
function cli(
  args: string[],
  o: { env?: Record<string, string>; onStdout?: (all: string, child: ReturnType<typeof spawn>) => void; onStderr?: (all: string) => void } = {},
): Promise<Result> {
  const child = spawn(process.execPath, ['--import', tsx, entry, ...args], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, 'config'),
      NO_COLOR: '1',
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    o.onStdout?.(stdout, child);
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    o.onStderr?.(stderr);
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const as = (key: string) => ({ GPUPOOL_API_URL: pool.stack.apiUrl, GPUPOOL_API_KEY: key });

beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'gpupool-cli-e2e-'));
  pool = await startPool();
  [consumer, provider] = await Promise.all([pool.newAccount('consumer', 'cli-consumer'), pool.newAccount('provider', 'cli-provider')]);
  ({ nodeId } = await pool.addAgent({ name: 'cli-a100', gpus: '1xA100-80', providerKey: provider.key }));
}, 120_000);

afterAll(async () => {
  await pool?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('gpupool CLI on the local stack', () => {
  it('logs in: checks the key, saves the profile 0600 in a 0700 directory, and later commands use it', async () => {
    const r = await cli(['login', '--api', pool.stack.apiUrl, '--key', consumer.key, '--account', consumer.id]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Logged in to http:\/\/127\.0\.0\.1:\d+ as profile "default"/);
    const file = path.join(home, 'config', 'gpupool', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const b = await cli(['balance', '--json']);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toEqual({
      accountId: consumer.id,
      role: 'consumer',
      available: CONSUMER_FUNDS,
      held: 0,
      staked: 0,
      stakeFree: 0,
      stakeLocked: 0,
      unbonding: 0,
      symbol: expect.any(String),
    });
    const keys = await cli(['keys', 'ls']);
    expect(keys.code).toBe(0);
    expect(keys.stdout).toMatch(/consumer/);
  });

  it('run prints the job\'s output and exits with its exit code', async () => {
    const r = await cli(['run', '--gpus', '1', '--', 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
    expect(r.stdout).toBe('hi\n');
    expect(r.stderr).toMatch(/^oops$/m);
    expect(r.stderr).toMatch(/^job \S+ FAILED \(EXIT_NONZERO\), exit code 3, ran .* on node \S+, cost /m);
    expect(r.code).toBe(3);
  }, 30_000);

  it('run -- echo ok exits 0', async () => {
    const r = await cli(['run', '--', 'echo', 'ok'], { env: as(consumer.key) });
    expect(r.stdout).toBe('ok\n');
    expect(r.stderr).toMatch(/SUCCEEDED, exit code 0/);
    expect(r.code).toBe(0);
  }, 30_000);

  it('run --json prints one JSON document: the finished job', async () => {
    const r = await cli(['run', '--json', '--name', 'json-run', '--gpu-model', 'A100', '--', 'echo', 'ok']);
    expect(r.code).toBe(0);
    const { job } = JSON.parse(r.stdout);
    expect(job).toMatchObject({ name: 'json-run', status: 'SUCCEEDED', exitCode: 0, nodeId, resources: { gpus: 1, gpuModels: ['A100'] } });
    expect(r.stderr).toMatch(/^ok$/m);
  }, 30_000);

  it('Ctrl-C without a terminal cancels the job and exits 130', async () => {
    let sent = false;
    const r = await cli(['run', '--', 'sh', '-c', 'echo started; sleep 60'], {
      onStdout: (all, child) => {
        if (!sent && all.includes('started')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted; cancelling job/);
    expect(r.stderr).toMatch(/CANCELLED \(CANCELLED_BY_USER\)/);
    const id = /job (\S+) CANCELLED/.exec(r.stderr)![1];
    expect((await consumer.api.get(`/v1/jobs/${id}`)).body.job.status).toBe('CANCELLED');
  }, 30_000);

  it('run --detach prints the job id at once; jobs logs -f follows it to the end', async () => {
    const d = await cli(['run', '--detach', '--', 'sh', '-c', 'echo one; sleep 1; echo two']);
    expect(d.code).toBe(0);
    const id = d.stdout.trim();
    expect(id).toMatch(/^[a-z0-9]+$/);
    const f = await cli(['jobs', 'logs', '-f', id]);
    expect(f).toMatchObject({ code: 0, stdout: 'one\ntwo\n' });
    expect((await consumer.api.get(`/v1/jobs/${id}`)).body.job.status).toBe('SUCCEEDED');
  }, 30_000);

  it('jobs ls shows the jobs; jobs get and jobs logs show one', async () => {
    const ls = await cli(['jobs', 'ls', '--json']);
    expect(ls.code).toBe(0);
    const items: { id: string; status: string; exitCode: number | null }[] = JSON.parse(ls.stdout).items;
    expect(items.length).toBeGreaterThanOrEqual(4);
    const failed = items.find((j) => j.exitCode === 3)!;
    expect(failed.status).toBe('FAILED');
    const table = await cli(['jobs', 'ls']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATUS\s+GPUS\s+NODE/);
    for (const j of items) expect(table.stdout).toContain(j.id);
    expect(table.stdout).toMatch(/json-run\s+SUCCEEDED/);
    const get = await cli(['jobs', 'get', failed.id]);
    expect(get.stdout).toMatch(/status:\s+FAILED \(EXIT_NONZERO\)/);
    expect(get.stdout).toMatch(/exit code:\s+3/);
    const logs = await cli(['jobs', 'logs', failed.id]);
    expect(logs).toMatchObject({ code: 0, stdout: 'hi\n' });
    expect(logs.stderr).toMatch(/oops/);
  }, 30_000);

  it('offers lists the A100 node', async () => {
    await eventually(async () => ((await pool.stack.deps.nodes.available(undefined, 10)).some((n) => n.freeGpus === 1) ? true : undefined));
    const r = await cli(['offers', '--gpu', 'A100']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^GPU\s+VRAM\s+REGION\s+NODES\s+FREE GPUS\s+MIN PRICE\s+MEDIAN PRICE\s+REPUTATION\nA100\s+80 GB\s+local\s+1\s+1\s+\d+\.\d\d\s+\d+\.\d\d\s+\d\.\d\d\n$/);
    const j = await cli(['offers', '--json']);
    expect(JSON.parse(j.stdout).items).toEqual([expect.objectContaining({ gpuModel: 'A100', vramGb: 80, nodes: 1 })]);
  });

  it('nodes: a provider lists, drains and undrains its node; scores shows the problem', async () => {
    const env = as(provider.key);
    const ls = await cli(['nodes', 'ls'], { env });
    expect(ls.stdout).toMatch(new RegExp(`${nodeId}\\s+cli-a100\\s+ONLINE\\s+1× A100 80 GB`));
    const drain = await cli(['nodes', 'drain', nodeId, '--json'], { env });
    expect(JSON.parse(drain.stdout).node.status).toBe('DRAINING');
    const undrain = await cli(['nodes', 'undrain', nodeId], { env });
    expect(undrain.stdout).toMatch(/is ONLINE/);
    const scores = await cli(['nodes', 'scores', nodeId], { env });
    if (scores.code !== 0) {
      expect(scores.code).toBe(1);
      expect(scores.stderr).toMatch(/^error: Not Found: /);
    }
  }, 30_000);

  it('admins create accounts and credit them', async () => {
    const env = as(pool.adminKey);
    const created = await cli(['accounts', 'create', '--name', 'bob', '--role', 'consumer', '--json'], { env });
    expect(created.code).toBe(0);
    const { account, apiKey } = JSON.parse(created.stdout);
    expect(apiKey).toMatch(/^gp_/);
    const credit = await cli(['accounts', 'credit', account.id, '--amount', '25.5', '--memo', 'test'], { env });
    expect(credit.stdout).toMatch(/credited 25\.50 to .*available now 25\.50/);
    const b = await cli(['balance'], { env: as(apiKey) });
    expect(b.stdout).toMatch(/available:\s+25\.50 \w+/);
  });

  it('a new user: login, run nvidia-smi (it waits for credits until an admin mints), sees the simulated GPU', async () => {
    const admin = as(pool.adminKey);
    const created = await cli(['accounts', 'create', '--name', 'newbie', '--role', 'consumer', '--json'], { env: admin });
    const { account, apiKey } = JSON.parse(created.stdout);
    const userHome = { HOME: path.join(home, 'newbie'), XDG_CONFIG_HOME: path.join(home, 'newbie', 'config') };
    const login = await cli(['login', '--api', pool.stack.apiUrl, '--key', apiKey], { env: userHome });
    expect(login.code).toBe(0);
    let minted: Promise<Result> | undefined;
    const r = await cli(['run', '--gpus', '1', '--', 'nvidia-smi'], {
      env: userHome,
      // the job cannot be placed without credits; the CLI says so, and the admin mints
      onStderr: (all) => {
        if (!minted && /waits: insufficient credits/.test(all)) minted = cli(['credits', 'mint', account.id, '100'], { env: admin });
      },
    });
    expect(r.stderr).toMatch(/^gpupool: job \S+ waits: insufficient credits: the escrow hold is .*gpupool credits mint ACCOUNT AMOUNT\)$/m);
    // "available now" is read after the mint: a sweep may already have placed the waiting job and held its escrow
    const mintLine = (await minted)?.stdout ?? '';
    expect(mintLine).toMatch(new RegExp(`^minted 100\\.00 to ${account.id}; available now \\d+\\.\\d\\d\\n$`));
    const availableAfterMint = Number(/available now ([\d.]+)/.exec(mintLine)![1]);
    expect(availableAfterMint).toBeLessThanOrEqual(100);
    expect(availableAfterMint).toBeGreaterThan(90);
    expect(r.code).toBe(0);
    // the real table captured on an A100 machine, with the one GPU the job was given
    expect(r.stdout).toMatch(/^\| NVIDIA-SMI 555\.42\.02 +Driver Version: 555\.42\.02 +CUDA Version: 12\.5 +\|$/m);
    expect(r.stdout).toMatch(/^\|   0  NVIDIA A100-SXM4-80GB          On  \|/m);
    expect(r.stdout.match(/NVIDIA A100/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/SUCCEEDED, exit code 0/);
    const st = await cli(['statement'], { env: userHome });
    expect(st.stdout).toMatch(/\bmint\s+available \+100\.00/);
    expect(st.stdout).toMatch(/\bhold\s+available -[\d.]+, held \+/);
  }, 60_000);

  it('providers stake and unstake in credits; admins audit the ledger', async () => {
    const admin = as(pool.adminKey);
    const env = as(provider.key);
    expect((await cli(['credits', 'mint', provider.id, '50', '--memo', 'stake money'], { env: admin })).code).toBe(0);
    const s = await cli(['stake', '12.5'], { env });
    expect(s.stdout).toMatch(/^staked 12\.50 \w+; stake now \S+ \w+/);
    const u = await cli(['unstake', '2.000001'], { env });
    expect(u.stdout).toMatch(/^unstaking 2\.000001 \w+: available again after \d{4}-/);
    expect((await cli(['stake', '1.0000001'], { env })).code).toBe(2);
    const b = await cli(['balance'], { env });
    expect(b.stdout).toMatch(/^staked:\s+[\d.,]+ \w+$/m);
    expect(b.stdout).toMatch(/^unbonding:\s+2\.00 \w+$/m);
    const st = await cli(['statement', '--json'], { env });
    expect(st.stderr).toBe('');
    expect(JSON.parse(st.stdout).items.map((e: { kind: string }) => e.kind).slice(0, 2)).toEqual(['unstake', 'stake']);
    const a = await cli(['audit'], { env: admin });
    expect(a.stdout).toMatch(/^ledger ok: /);
    expect(a.code).toBe(0);
    const denied = await cli(['audit'], { env });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^error: Forbidden/);
  }, 60_000);

  it('a bad key prints the problem and exits 1, without a stack trace', async () => {
    const r = await cli(['jobs', 'ls'], { env: as('gp_aaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbb') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: Unauthorized: missing or unknown API key\n');
    expect(r.stdout).toBe('');
  });

  it('a consumer may not mint: the 403 problem is shown', async () => {
    const r = await cli(['accounts', 'credit', consumer.id, '--amount', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Forbidden: /);
  });
});
