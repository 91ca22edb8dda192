// The open checker network end to end on the local stack (issue 19, Done when): the admin mints licenses,
// one is transferred and one delegated (20% to its operator); four gpupool-checker processes run — one
// with GPUPOOL_SIMULATED_DISHONEST=reports, one stopped midway — against real agents, with the stack's own
// epoch timer closing 4-second epochs. Honest nodes stay ONLINE with rising reputation; the lying checker
// earns nothing and is suspended; the delegated license's rewards are split as agreed; the audit is clean.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network } from '../../functions/usecases/checker-network';
import { buildChecker } from '../../scripts/build-checker';
import { DEFAULT_GOVERNANCE } from '../../functions/usecases/governance-settings';
import { eventually } from '../helpers/api';
import { startPool, type Pool } from '../helpers/local-pool';

const tsx = createRequire(import.meta.url).resolve('tsx');
const BIN = path.resolve(__dirname, '../../bin/gpupool-checker.ts');
type Account = Awaited<ReturnType<Pool['newAccount']>>;

let pool: Pool;
const procs: ChildProcess[] = [];
const out: string[] = [];

function checker(name: string, a: Account, extra: Record<string, string> = {}, args: string[] = []): ChildProcess {
  const p = spawn(process.execPath, ['--import', tsx, BIN, ...args], {
    env: { ...process.env, GPUPOOL_API_URL: pool.stack.apiUrl, GPUPOOL_CHECKER_KEY: a.key, GPUPOOL_CHECKER_STATE_DIR: path.join(pool.dir, `checker-${name}`), GPUPOOL_CHECKER_POLL_SECONDS: '0.5', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const s of [p.stdout!, p.stderr!]) s.on('data', (b: Buffer) => out.push(`[${name}] ${b.toString().trim()}`));
  procs.push(p);
  return p;
}
const exited = (p: ChildProcess) => new Promise<number | null>((res) => (p.exitCode !== null ? res(p.exitCode) : p.once('exit', (c) => res(c))));

beforeAll(async () => {
  pool = await startPool({ checkerMs: 1_000, checker: { networkEpochMs: 4_000, networkRewardPerEpoch: 1_000_000 }, settings: { governance: { ...DEFAULT_GOVERNANCE, licenseSupply: 10 } } });
}, 60_000);
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await Promise.all(procs.map(exited));
  await pool?.stop();
});

describe('the checker network end to end', () => {
  it('--check validates the settings and reaches the API', async () => {
    const a = await pool.newAccount('consumer', 'check only', false);
    expect(await exited(checker('check', a, {}, ['--check']))).toBe(0);
    expect(await exited(checker('bad', a, { GPUPOOL_CHECKER_KEY: '' }))).toBe(2);
  }, 30_000);

  it('bundles into one file that runs with plain node (no node_modules beside it)', async () => {
    const { outfile, bytes } = await buildChecker(undefined, path.join(pool.dir, 'bundle', 'gpupool-checker.mjs'));
    expect(bytes).toBeLessThan(1024 * 1024);
    const a = await pool.newAccount('consumer', 'bundle check', false);
    const p = spawn(process.execPath, [outfile, '--check'], {
      cwd: path.dirname(outfile),
      env: { PATH: process.env.PATH, GPUPOOL_API_URL: pool.stack.apiUrl, GPUPOOL_CHECKER_KEY: a.key, GPUPOOL_CHECKER_STATE_DIR: path.join(pool.dir, 'bundle-state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    for (const s of [p.stdout!, p.stderr!]) s.on('data', (b: Buffer) => (text += b.toString()));
    expect(await exited(p), text).toBe(0);
    expect(text).toContain('HTTP 200');
  }, 60_000);

  it('keeps honest nodes ONLINE, pays honest checkers, splits a delegation, suspends the liar; the audit holds', async () => {
    const [p1, p2] = await Promise.all([pool.newAccount('provider', 'p1'), pool.newAccount('provider', 'p2')]);
    const nodes = (await Promise.all([pool.addAgent({ name: 'cn-n1', gpus: '1xL4-24', providerKey: p1.key }), pool.addAgent({ name: 'cn-n2', gpus: '1xL4-24', providerKey: p2.key })])).map((a) => a.nodeId);
    const acct = (n: string) => pool.newAccount('consumer', n, false);
    const [seller, buyer, owner, operator, stopper, liar] = await Promise.all(['seller', 'buyer', 'owner', 'operator', 'stopper', 'liar'].map(acct));
    const mint = async (a: Account) => (await pool.admin.post('/v1/licenses', { account: a.id, count: 1 })).body.items[0].id as string;
    const sold = await mint(seller);
    expect((await seller.api.post(`/v1/licenses/${sold}/transfer`, { to: buyer.id })).status).toBe(200);
    const delegated = await mint(owner);
    expect((await owner.api.post(`/v1/licenses/${delegated}/delegate`, { operator: operator.id, rewardShareBps: 2_000 })).status).toBe(200);
    const stopperLicense = await mint(stopper);
    const liarLicense = await mint(liar);
    expect((await pool.admin.post('/v1/accounts/sys-rewards/credits', { amount: 1_000_000_000, memo: 'checker rewards' })).status).toBe(201);
    const before = new Map(await Promise.all(nodes.map(async (n) => [n, (await pool.stack.deps.nodes.get(n))!.reputation] as const)));

    checker('buyer', buyer);
    checker('operator', operator);
    const stopping = checker('stopper', stopper);
    checker('liar', liar, { GPUPOOL_SIMULATED_DISHONEST: 'reports' });

    const d = pool.stack.deps;
    const rewardOf = async (licenseId: string) => {
      let sum = 0;
      const last = await network(d).closedThrough();
      for (let e = (last ?? 0) - 40; last !== undefined && e <= last; e++) for (const s of await network(d).scores(e)) if (s.licenseId === licenseId && s.posted) sum += s.reward;
      return sum;
    };
    // the stopper runs until it has earned, then is stopped midway
    await eventually(async () => ((await rewardOf(stopperLicense)) > 0 ? true : undefined), 40_000, 'the stopper earned');
    stopping.kill('SIGTERM');
    expect(await exited(stopping)).toBe(0);
    // the epoch it stopped in is closed with what it reported before; from the next one on it earns nothing
    const stoppedIn = (await network(d).closedThrough())! + 1;
    await eventually(async () => ((await network(d).closedThrough())! > stoppedIn ? true : undefined), 15_000, 'the stop epoch closed');
    const stopperEarned = await rewardOf(stopperLicense);

    const lic = await eventually(async () => {
      const l = (await liar.api.get(`/v1/licenses/${liarLicense}`)).body.license;
      return l.status === 'suspended' ? l : undefined;
    }, 90_000, 'the liar suspended');
    expect(lic.status).toBe('suspended');
    // one more epoch closed after the stop, so the stopper's missing reports are scored
    const through = (await network(d).closedThrough())!;
    await eventually(async () => ((await network(d).closedThrough())! > through ? true : undefined), 15_000, 'another epoch closed');

    for (const n of nodes) {
      const node = (await d.nodes.get(n))!;
      expect(node.status).toBe('ONLINE');
      expect(node.reputation).toBeGreaterThan(before.get(n)!);
    }
    const bal = async (a: Account) => (await a.api.get('/v1/balance')).body.available as number;
    const [buyerGot, liarGot, ownerGot, operatorGot, stopperGot] = await Promise.all([buyer, liar, owner, operator, stopper].map(bal));
    expect(liarGot).toBe(0);
    expect(buyerGot).toBeGreaterThan(0);
    expect(buyerGot).toBe(await rewardOf(sold));
    // the seller sold before any epoch: nothing of the license's rewards is theirs
    expect(await bal(seller)).toBe(0);
    const delegatedTotal = await rewardOf(delegated);
    expect(ownerGot + operatorGot).toBe(delegatedTotal);
    expect(operatorGot).toBeGreaterThan(0);
    expect(operatorGot).toBeLessThanOrEqual(Math.floor(delegatedTotal * 0.2));
    expect(operatorGot).toBeGreaterThanOrEqual(Math.floor(delegatedTotal * 0.2) - 50);
    // the stopped checker earned nothing more after it stopped
    expect(stopperGot).toBe(await rewardOf(stopperLicense));
    expect(stopperGot).toBe(stopperEarned);
    const standings = new Map((await network(d).registrations()).map((r) => [r.licenseId, r.standing]));
    expect(standings.get(liarLicense)!).toBeLessThan(standings.get(sold)!);
    expect((await pool.admin.get('/v1/ledger/audit')).body.ok).toBe(true);
    console.log(JSON.stringify({ rewards: { buyer: buyerGot, owner: ownerGot, operator: operatorGot, stopper: stopperGot, liar: liarGot }, standings: Object.fromEntries(standings) }));
  }, 180_000);
});
