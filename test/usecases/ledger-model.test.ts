// Model-based test of the ledger on DynamoDB Local (issue #7): fast-check drives random sequences of
// mint, submit, place, start, finish, lose, cancel, stake, unstake, node locks, slash and reward — each
// step sometimes run twice at once (a retried Lambda, a duplicate SQS delivery) — and after every step
// the audit must hold: no negative balance, balances equal the sum of the entries, total supply equals
// total minted, nothing posted twice. A small model tracks what must have been minted.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancel, finish, lose, start } from '../../functions/domain/job/transitions';
import { mintPosting } from '../../functions/domain/ledger/postings';
import { SYSTEM_ACCOUNTS } from '../../functions/domain/ledger/model';
import type { Caller, Job, Node } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import type { Deps } from '../../functions/usecases/deps';
import { applyTransition } from '../../functions/usecases/effects';
import { submitJob } from '../../functions/usecases/jobs';
import { auditLedger, ensureStakeLock, postReward, releaseStakeLock, slashNode, stake, unstake } from '../../functions/usecases/ledger';
import { sweep } from '../../functions/usecases/placement';
import { insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

let pool: Pool;
let run = 0;

beforeAll(async () => {
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, checkerMs: 3_600_000 });
}, 60_000);
afterAll(async () => pool?.stop());

type Op =
  | { op: 'mint'; who: number; amount: number }
  | { op: 'submit'; who: number; gpus: number; seconds: number }
  | { op: 'sweep' }
  | { op: 'start' | 'finish' | 'lose' | 'cancel'; job: number; exit: number }
  | { op: 'tick'; ms: number }
  /** the newest ASSIGNED job starts, runs `ms` and ends with `exit` (each report possibly twice) */
  | { op: 'cycle'; ms: number; exit: number }
  | { op: 'stake' | 'unstake'; who: number; amount: number }
  | { op: 'lock' | 'unlock' | 'slash'; node: number }
  | { op: 'reward'; node: number; reward: number; penalty: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('mint' as const), who: fc.nat(3), amount: fc.integer({ min: 1, max: 20_000_000 }) }),
  fc.record({ op: fc.constant('submit' as const), who: fc.nat(1), gpus: fc.integer({ min: 1, max: 2 }), seconds: fc.integer({ min: 1, max: 20 }) }),
  fc.constant({ op: 'sweep' as const }),
  // lifecycle steps aim at the last few jobs, so that starts, ticks and finishes meet the same job
  { arbitrary: fc.record({ op: fc.constantFrom('start' as const, 'finish' as const, 'lose' as const, 'cancel' as const), job: fc.nat(2), exit: fc.constantFrom(0, 1) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 30_000 }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('cycle' as const), ms: fc.integer({ min: 1, max: 30_000 }), exit: fc.constantFrom(0, 1) }), weight: 2 },
  fc.record({ op: fc.constantFrom('stake' as const, 'unstake' as const), who: fc.nat(1), amount: fc.integer({ min: 1, max: 5_000_000 }) }),
  fc.record({ op: fc.constantFrom('lock' as const, 'unlock' as const), node: fc.nat(1) }),
  fc.record({ op: fc.constant('slash' as const), node: fc.nat(1) }),
  fc.record({ op: fc.constant('reward' as const), node: fc.nat(1), reward: fc.nat(2_000_000), penalty: fc.nat(1_000_000) }),
);

/** Conflicts and shortfalls are expected outcomes of a random step; anything else is a bug. */
const expected = (e: unknown) => {
  const code = (e as { code?: string }).code;
  if (code === 'conflict' || code === 'not_found' || code === 'forbidden') return undefined;
  throw e;
};

async function scenario(ops: Array<{ o: Op; twice: boolean }>) {
  const r = ++run;
  let clock = Date.now();
  const base = pool.stack.deps;
  const d: Deps = { ...base, now: () => clock, settings: { ...base.settings, ledger: { ...base.settings.ledger, minStakePerGpu: 1_000_000, unstakeCooldownMs: 10_000 } } };
  const consumers: Caller[] = [0, 1].map((i) => ({ accountId: `m${r}-c${i}`, role: 'consumer', keyId: 'k' }));
  const providers: Caller[] = [0, 1].map((i) => ({ accountId: `m${r}-p${i}`, role: 'provider', keyId: 'k' }));
  for (const a of [...consumers, ...providers]) await d.accounts.create({ id: a.accountId, name: a.accountId, role: a.role as 'consumer', createdAt: clock, available: 0, held: 0, staked: 0 });
  const nodes: Node[] = [];
  for (const [i, p] of providers.entries()) {
    const id = `m${r}-n${i}`;
    nodes.push(await insertNode(d, id, { gpus: 2, model: `M${r}`, provider: p.accountId, price: 3_600_000 * (i + 1) }));
  }
  const jobs: string[] = [];
  const holders = [...consumers, ...providers];

  const step = async (o: Op, stepNo: number) => {
    switch (o.op) {
      case 'mint':
        // the same key twice is the HTTP layer's retry of one mint: it must post once
        await d.ledger.post([mintPosting(`mint/${holders[o.who].accountId}/${r}-${stepNo}`, holders[o.who].accountId, o.amount, clock)]);
        return;
      case 'submit': {
        const spec = SubmitJobSchema.parse({ command: ['true'], resources: { gpus: o.gpus, gpuModels: [`M${r}`] }, maxDurationSeconds: o.seconds });
        jobs.push((await submitJob(d, consumers[o.who], spec)).id);
        return;
      }
      case 'sweep':
        await sweep(d);
        return;
      case 'tick':
        clock += o.ms;
        return;
      case 'cycle': {
        const all = await Promise.all(jobs.map((id) => d.jobs.get(id)));
        const job = all.reverse().find((j) => j?.status === 'ASSIGNED');
        if (!job) return;
        const a = job.liveAttemptId!;
        await Promise.all([0, 1].map(() => applyTransition(d, job, (j) => start(j, a, clock)).catch(expected)));
        const running = (await d.jobs.get(job.id))!;
        const end = clock + o.ms;
        await Promise.all([0, 1].map(() => applyTransition(d, running, (j) => finish(j, a, { exitCode: o.exit, outcome: 'exited' }, end)).catch(expected)));
        return;
      }
      case 'start':
      case 'finish':
      case 'lose':
      case 'cancel': {
        const id = jobs[jobs.length - 1 - (o.job % Math.max(1, jobs.length))];
        const job = id ? await d.jobs.get(id) : undefined;
        if (!job) return;
        const make = (j: Job) => {
          const a = j.liveAttemptId;
          if (o.op === 'cancel') return cancel(j, clock);
          if (!a) throw Object.assign(new Error('no live attempt'), { code: 'conflict' });
          if (o.op === 'start') return start(j, a, clock);
          if (o.op === 'lose') return lose(j, a, 'NODE_LOST', clock);
          return finish(j, a, { exitCode: o.exit, outcome: j.cancelRequested ? 'cancelled' : 'exited' }, clock);
        };
        await applyTransition(d, job, make);
        return;
      }
      case 'stake':
        await stake(d, providers[o.who], o.amount);
        return;
      case 'unstake':
        await unstake(d, providers[o.who], o.amount);
        return;
      case 'lock':
        await ensureStakeLock(d, nodes[o.node].id);
        return;
      case 'unlock':
        await releaseStakeLock(d, nodes[o.node].id);
        return;
      case 'slash':
        await slashNode(d, nodes[o.node].id, `quarantine/${nodes[o.node].id}/${stepNo}/slash`, `evidence ${stepNo}`);
        return;
      case 'reward':
        await postReward(d, `epoch/${stepNo}/node/${nodes[o.node].id}/reward`, nodes[o.node].providerId, nodes[o.node].id, o.reward, o.penalty);
        return;
    }
  };

  for (const [i, { o, twice }] of ops.entries()) {
    await Promise.all((twice ? [0, 1] : [0]).map(() => step(o, i).catch(expected)));
    const a = await auditLedger(d, 0);
    expect(a.negative, `step ${i} ${JSON.stringify(o)}`).toEqual([]);
    expect(a.duplicates, `step ${i}`).toEqual([]);
    expect(a.differences, `step ${i} ${JSON.stringify(o)}`).toEqual([]);
    expect(a.totalSupply, `step ${i}`).toBe(a.totalMinted);
  }
  // every live hold is exactly what the consumers' held balances carry
  const live = (await Promise.all(jobs.map((id) => d.jobs.get(id)))).flatMap((j) => j!.attempts.filter((x) => x.finishedAt === undefined));
  const held = (await Promise.all(consumers.map((c) => d.accounts.get(c.accountId)))).reduce((s, a) => s + (a!.held ?? 0), 0);
  expect(held).toBe(live.reduce((s, x) => s + (x.hold ?? 0), 0));
  // locked stake equals what the nodes record
  for (const n of nodes) {
    const node = (await d.nodes.get(n.id))!;
    const p = (await d.accounts.get(n.providerId))!;
    expect(p.locked ?? 0).toBe(node.stakeLocked ?? 0);
  }
  return { r, jobs, consumers, providers };
}

describe('ledger model (DynamoDB Local)', () => {
  it('keeps every balance equal to its entries and the supply equal to the minted total, whatever happens', async () => {
    const withFunds = (ops: Array<{ o: Op; twice: boolean }>) => [
      // start funded so that most sequences reach holds and settlements
      { o: { op: 'mint', who: 0, amount: 50_000_000 } as Op, twice: true },
      { o: { op: 'mint', who: 2, amount: 5_000_000 } as Op, twice: false },
      { o: { op: 'stake', who: 0, amount: 3_000_000 } as Op, twice: false },
      // a short tour through every kind of posting, then the random steps
      ...(
        [
          { op: 'lock', node: 0 },
          { op: 'submit', who: 0, gpus: 1, seconds: 20 },
          { op: 'cycle', ms: 5000, exit: 0 },
          { op: 'slash', node: 0 },
          { op: 'unstake', who: 0, amount: 100_000 },
          { op: 'reward', node: 0, reward: 10, penalty: 0 },
          { op: 'reward', node: 0, reward: 0, penalty: 10 },
          { op: 'unlock', node: 0 },
        ] as Op[]
      ).map((o) => ({ o, twice: true })),
      ...ops,
    ];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ o: opArb, twice: fc.boolean() }), { minLength: 8, maxLength: 30 }), async (ops) => {
        await scenario(withFunds(ops));
      }),
      { numRuns: 12 },
    );
    // the random runs did reach every kind of posting (else the property above proves little)
    const kinds = new Set<string>();
    for await (const e of pool.stack.deps.ledger.all()) kinds.add(e.kind);
    for (const k of ['mint', 'hold', 'charge', 'fee', 'release', 'stake', 'unstake', 'lock', 'unlock', 'slash_treasury', 'reward', 'penalty']) expect(kinds, k).toContain(k);
  }, 240_000);

  it('settles a full job to the micro-credit and pays fees and rewards from the pool', async () => {
    const d0 = pool.stack.deps;
    const before = await auditLedger(d0);
    const steps: Op[] = [
      { op: 'mint', who: 0, amount: 7_200_000 },
      { op: 'submit', who: 0, gpus: 2, seconds: 1 },
      { op: 'start', job: 0, exit: 0 },
      { op: 'tick', ms: 750 },
      { op: 'finish', job: 0, exit: 0 },
    ];
    const feesBefore = (await d0.accounts.get(SYSTEM_ACCOUNTS.fees))!.available;
    const { jobs, consumers, providers } = await scenario(steps.map((o) => ({ o, twice: o.op !== 'tick' && o.op !== 'submit' })));
    const after = await auditLedger(d0);
    expect(after.ok).toBe(true);
    expect(after.totalMinted - before.totalMinted).toBe(7_200_000);
    // node 0 costs 3.6 credits per GPU-hour = 1000 micro-credits per GPU-second: 0.75 s × 2 GPUs = 1500,
    // against a hold of 2 GPUs × 1 s = 2000; 5% fee = 75, half of it (37) to the reward pool
    const job = (await d0.jobs.get(jobs[0]))!;
    expect(job.status).toBe('SUCCEEDED');
    expect(job.attempts[0]).toMatchObject({ hold: 2000, charged: 1500 });
    expect(await d0.accounts.get(consumers[0].accountId)).toMatchObject({ available: 7_200_000 - 1500, held: 0 });
    expect(await d0.accounts.get(providers[0].accountId)).toMatchObject({ available: 1425 });
    expect((await d0.accounts.get(SYSTEM_ACCOUNTS.fees))!.available - feesBefore).toBe(38);
  }, 60_000);
});
