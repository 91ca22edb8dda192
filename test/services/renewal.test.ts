// A service replica's money on DynamoDB Local (docs/services.md, Money): the reaper renews its billing
// period before it ends (settle the period's metered time, hold the next, in the job's own conditional
// transaction); its end settles the current period only; a renewal racing the agent's finish or another
// renewal settles each period once; an owner who cannot cover the next period sees the replica end
// CANCELLED/INSUFFICIENT_CREDITS with the provider paid for the time used. The ledger audit stays clean.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CountedJob } from '../../functions/domain/account-limits';
import { renewalLeadMs } from '../../functions/domain/job/renewal';
import { meteredCost } from '../../functions/domain/job/view';
import { DEFAULT_LEDGER, type Entry } from '../../functions/domain/ledger/model';
import { holdAmount, holdKey, meteredCharge, segmentHoldKey, segmentSettleKey, settleKey } from '../../functions/domain/ledger/postings';
import type { QueueMessage as AgentMessage } from '../../functions/domain/agent-protocol';
import type { Caller, Job, Node } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { finishAttempt, startAttempt } from '../../functions/usecases/agent';
import type { Deps } from '../../functions/usecases/deps';
import { auditLedger } from '../../functions/usecases/ledger';
import { tryPlace } from '../../functions/usecases/placement';
import { reap } from '../../functions/usecases/reaper';
import { renewReplica } from '../../functions/usecases/renewal';
import { fundedAccount, insertNode } from '../helpers/fixtures';
import { startPool, type Pool } from '../helpers/local-pool';

const PERIOD = 60; // seconds: the local stack's billing period
const LEAD = renewalLeadMs(PERIOD); // 6 s
const GPUS = 2;
const PRICE = 3_600_007; // micro-credits per GPU-hour: not a whole number per ms, so each period rounds down
const FEE_BPS = 500;
const PROVIDER = 'renewal-provider';

let pool: Pool;
// the test's clock: every use case reads it through deps.now
const clock = { t: Date.now() };
let d: Deps;
// cancel messages sent to nodes (the agent told to stop)
const sent: Array<{ nodeId: string; message: AgentMessage }> = [];

beforeAll(async () => {
  // no timers: the test drives the reaper and the clock itself
  pool = await startPool({ sweepMs: 3_600_000, reaperMs: 3_600_000, settings: { ledger: { ...DEFAULT_LEDGER, feeBps: FEE_BPS, minStakePerGpu: 0 } } });
  const base = pool.stack.deps;
  const queues = Object.create(base.queues) as Deps['queues'];
  queues.sendToNode = async (nodeId: string, url: string, message: AgentMessage) => {
    sent.push({ nodeId, message });
    return base.queues.sendToNode(nodeId, url, message);
  };
  // the nodes here have no agent heartbeating: the test's clock runs minutes ahead, so the reaper's node
  // pass (write-offs, proven elsewhere) is left out; its job pass (deadlines, renewals) is what runs
  const nodes = Object.create(base.nodes) as Deps['nodes'];
  nodes.overdue = async () => [];
  d = { ...base, queues, nodes, now: () => clock.t };
  await fundedAccount(d, PROVIDER, 0, 'provider');
}, 60_000);
afterAll(async () => pool?.stop());

let seq = 0;
/** A RUNNING replica of a service on its own node (placed by the placement use case, started by its node). */
async function runningReplica(consumerId: string, o: { counted?: boolean } = {}): Promise<{ job: Job; node: Node; nodeCaller: Caller; t0: number }> {
  const n = ++seq;
  const model = `REN${n}`;
  const node = await insertNode(d, `renewal-node-${n}`, { gpus: GPUS, model, provider: PROVIDER, price: PRICE });
  const spec = SubmitJobSchema.parse({ command: ['serve'], resources: { gpus: GPUS, gpuModels: [model] }, maxDurationSeconds: PERIOD });
  const job: CountedJob = {
    ...spec,
    maxAttempts: 100,
    id: `svc${n}-s1`,
    accountId: consumerId,
    status: 'QUEUED',
    attempts: [],
    createdAt: clock.t,
    queuedAt: clock.t,
    version: 0,
    service: { id: `svc${n}`, generation: 1, port: 8000, readinessPath: '/health' },
    ...(o.counted === false ? {} : { limitsCounted: true as const }),
  };
  await d.jobs.create(job);
  const placed = await tryPlace(d, job);
  expect(placed).toMatchObject({ status: 'ASSIGNED', nodeId: node.id });
  const nodeCaller: Caller = { accountId: PROVIDER, role: 'node', keyId: 'n', nodeId: node.id };
  const t0 = clock.t;
  await startAttempt(d, nodeCaller, job.id, placed.liveAttemptId!);
  return { job: (await d.jobs.get(job.id))!, node, nodeCaller, t0 };
}

async function entriesOf(jobId: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of d.ledger.all()) if (e.cause.jobId === jobId) out.push(e);
  return out;
}
const postingKeys = (entries: Entry[]) => [...new Set(entries.map((e) => e.id.split('#')[0]))].sort();
/** what the consumer paid for the job: charges to the provider plus fees */
const paid = (entries: Entry[]) => entries.filter((e) => e.kind === 'charge' || e.kind === 'fee').reduce((s, e) => s + e.amount, 0);

async function expectCleanAudit() {
  const audit = await auditLedger(d);
  expect(audit.differences).toEqual([]);
  expect(audit.negative).toEqual([]);
  expect(audit.duplicates).toEqual([]);
  expect(audit.ok).toBe(true);
}

const exact = (ms: number) => meteredCharge(PRICE, GPUS, ms);
const HOLD = holdAmount(PRICE, GPUS, PERIOD);

describe('a service replica billed per period (DynamoDB Local)', () => {
  it('renews each period before it ends and charges, over several renewals and the end, the metered time', async () => {
    const consumer = await fundedAccount(d, 'renewal-consumer-a', 10_000_000_000);
    const { job, node, nodeCaller, t0 } = await runningReplica(consumer.accountId);
    const a = job.attempts[0];
    expect(a).toMatchObject({ hold: HOLD, status: 'RUNNING' });

    // before the period is due, the reaper leaves it alone
    clock.t = t0 + PERIOD * 1000 - LEAD - 1;
    expect((await reap(d)).renewals ?? 0).toBe(0);

    const renewals = [PERIOD * 1000 - LEAD + 37, PERIOD * 1000 - LEAD + 2_011, PERIOD * 1000 - LEAD + 999];
    let start = t0;
    const segmentCharges: number[] = [];
    for (const [k, after] of renewals.entries()) {
      clock.t = start + after;
      expect((await reap(d)).renewals).toBe(1);
      const j = (await d.jobs.get(job.id))!;
      const live = j.attempts[0];
      expect(live).toMatchObject({ status: 'RUNNING', segment: k + 1, segmentStartedAt: clock.t, hold: HOLD });
      segmentCharges.push(exact(clock.t - start));
      expect(live.segmentsCharged).toBe(segmentCharges.reduce((s, x) => s + x, 0));
      // the deadline index moved with the period: nothing is overdue now, the job is, one period on
      expect((await d.jobs.overdue(clock.t)).map((x) => x.id)).not.toContain(job.id);
      expect((await d.jobs.overdue(clock.t + PERIOD * 1000 - LEAD + 1)).map((x) => x.id)).toContain(job.id);
      // the consumer holds one period while the replica runs
      expect((await d.accounts.get(consumer.accountId))!.held).toBe(HOLD);
      start = clock.t;
    }

    // the node reports the end (after the renewals): only the current period is charged
    clock.t = start + 12_345;
    await finishAttempt(d, nodeCaller, job.id, { attemptId: a.id, exitCode: 0, outcome: 'exited', lines: [] });
    segmentCharges.push(exact(clock.t - start));
    const total = segmentCharges.reduce((s, x) => s + x, 0);
    // ± rounding down per period: never more than the metered time, at most one micro-credit less per period
    expect(total).toBeLessThanOrEqual(exact(clock.t - t0));
    expect(total).toBeGreaterThanOrEqual(exact(clock.t - t0) - segmentCharges.length);

    const entries = await entriesOf(job.id);
    expect(paid(entries)).toBe(total);
    expect(postingKeys(entries)).toEqual(
      [
        holdKey(job.id, 0),
        settleKey(job.id, 0),
        ...[0, 1, 2].map((k) => segmentSettleKey(job.id, 0, k)),
        ...[1, 2, 3].map((k) => segmentHoldKey(job.id, 0, k)),
      ].sort(),
    );
    const final = (await d.jobs.get(job.id))!;
    expect(final).toMatchObject({ status: 'SUCCEEDED' });
    expect(meteredCost(final, clock.t)).toMatchObject({ held: 0, charged: total, refunded: 4 * HOLD - total });
    const acct = (await d.accounts.get(consumer.accountId))!;
    expect(acct).toMatchObject({ held: 0, available: 10_000_000_000 - total });
    // the provider's counter on the node counts every period's pay (charge − fee)
    const providerPay = entries.filter((e) => e.kind === 'charge').reduce((s, e) => s + e.amount, 0);
    expect((await d.nodes.get(node.id))!).toMatchObject({ earned: providerPay, freeGpus: GPUS });
    await expectCleanAudit();
  }, 60_000);

  it('settles each period once when renewals race the node finishing the replica', async () => {
    const consumer = await fundedAccount(d, 'renewal-consumer-race', 10_000_000_000);
    const orders = new Set<string>();
    const later = <T>(ms: number, f: () => Promise<T>) => new Promise<T>((ok, no) => setTimeout(() => f().then(ok, no), ms));
    // the renewals start a little later each round (0 to 30 ms; the last round 300 ms, after the finish), so
    // both orders happen and the middle rounds truly race
    for (let round = 0; round < 12; round++) {
      const wait = round === 11 ? 300 : 3 * round;
      const { job, nodeCaller, t0 } = await runningReplica(consumer.accountId, { counted: round % 2 === 0 });
      clock.t = t0 + PERIOD * 1000 - LEAD + 500 + round;
      const a = job.attempts[0];
      const results = await Promise.allSettled([
        later(wait, () => renewReplica(d, job, clock.t)),
        finishAttempt(d, nodeCaller, job.id, { attemptId: a.id, exitCode: 0, outcome: 'exited', lines: [] }),
        later(wait, () => reap(d)),
        later(wait + 1, () => renewReplica(d, job, clock.t)),
      ]);
      // the finish always gets through (it re-reads after a renewal); at most one renewal applied
      expect(results[1].status).toBe('fulfilled');
      const final = (await d.jobs.get(job.id))!;
      expect(final.status).toBe('SUCCEEDED');
      const entries = await entriesOf(job.id);
      const keys = postingKeys(entries);
      expect(keys.filter((k) => k.endsWith('/settle')).length).toBeLessThanOrEqual(2);
      expect(keys).toContain(settleKey(job.id, 0));
      // time is charged once: the renewal's period plus the end's (zero if it came at the same instant) is the metered time
      expect(paid(entries)).toBe(exact(clock.t - t0));
      expect(meteredCost(final, clock.t).held).toBe(0);
      orders.add(keys.includes(segmentSettleKey(job.id, 0, 0)) ? 'renewal first' : 'finish first');
    }
    expect([...orders].sort()).toEqual(['finish first', 'renewal first']);
    expect((await d.accounts.get(consumer.accountId))!.held).toBe(0);
    await expectCleanAudit();
  }, 120_000);

  it('posts a renewal once when the reaper runs twice and a renewal is retried after a lost reply', async () => {
    const consumer = await fundedAccount(d, 'renewal-consumer-dup', 10_000_000_000);
    const { job, nodeCaller, t0 } = await runningReplica(consumer.accountId);
    clock.t = t0 + PERIOD * 1000 - LEAD + 10;
    const passes = await Promise.all([reap(d), reap(d), reap(d), renewReplica(d, job, clock.t).catch((e) => e)]);
    const renewed = passes.slice(0, 3).reduce((s, r) => s + ((r as { renewals?: number }).renewals ?? 0), 0) + ('renewed' in passes[3] ? 1 : 0);
    expect(renewed).toBe(1);
    // the caller whose reply was lost tries again with the job it read before: refused, nothing posted
    await expect(renewReplica(d, job, clock.t)).rejects.toMatchObject({ code: 'conflict' });
    clock.t += 1_000;
    expect((await reap(d)).renewals ?? 0).toBe(0);
    const j = (await d.jobs.get(job.id))!;
    expect(j.attempts[0].segment).toBe(1);
    let entries = await entriesOf(job.id);
    expect(postingKeys(entries)).toEqual([holdKey(job.id, 0), segmentHoldKey(job.id, 0, 1), segmentSettleKey(job.id, 0, 0)].sort());
    // the end, reported twice (a lost reply to the node): charged once
    await finishAttempt(d, nodeCaller, job.id, { attemptId: j.attempts[0].id, exitCode: 0, outcome: 'exited', lines: [] });
    await expect(finishAttempt(d, nodeCaller, job.id, { attemptId: j.attempts[0].id, exitCode: 0, outcome: 'exited', lines: [] })).rejects.toMatchObject({ code: 'conflict' });
    entries = await entriesOf(job.id);
    expect(paid(entries)).toBe(exact(j.attempts[0].segmentStartedAt! - t0) + exact(clock.t - j.attempts[0].segmentStartedAt!));
    await expectCleanAudit();
  }, 60_000);

  it('ends a replica whose owner cannot cover the next period: CANCELLED/INSUFFICIENT_CREDITS, the time used paid, the rest back', async () => {
    // exactly one period: nothing left to pay the elapsed period's charge out of and hold the next
    const consumer = await fundedAccount(d, 'renewal-consumer-poor', HOLD);
    const { job, node, nodeCaller, t0 } = await runningReplica(consumer.accountId);
    expect((await d.accounts.get(consumer.accountId))!).toMatchObject({ available: 0, held: HOLD });
    sent.length = 0;
    clock.t = t0 + PERIOD * 1000 - LEAD + 250;
    const r = await reap(d);
    expect(r.jobsEnded).toBe(1);
    expect(r.renewals ?? 0).toBe(0);
    const final = (await d.jobs.get(job.id))!;
    expect(final).toMatchObject({ status: 'CANCELLED', reason: 'INSUFFICIENT_CREDITS' });
    expect(final.liveAttemptId).toBeUndefined();
    const charge = exact(clock.t - t0);
    expect(final.attempts[0]).toMatchObject({ status: 'CANCELLED', reason: 'INSUFFICIENT_CREDITS', charged: charge, finishedAt: clock.t });
    // the agent is told to stop, the node's GPUs are free, nothing is due any more
    expect(sent).toContainEqual({ nodeId: node.id, message: expect.objectContaining({ type: 'cancel', attemptId: final.attempts[0].id }) });
    expect((await d.nodes.get(node.id))!.freeGpus).toBe(GPUS);
    expect((await d.jobs.overdue(clock.t + 10 * PERIOD * 1000)).map((x) => x.id)).not.toContain(job.id);
    // the provider was paid for the time used, the consumer got the rest of the hold back
    const entries = await entriesOf(job.id);
    expect(paid(entries)).toBe(charge);
    expect(postingKeys(entries)).toEqual([holdKey(job.id, 0), settleKey(job.id, 0)].sort());
    expect((await d.accounts.get(consumer.accountId))!).toMatchObject({ available: HOLD - charge, held: 0 });
    // the agent's report of the stop, later, changes nothing
    clock.t += 2_000;
    await expect(finishAttempt(d, nodeCaller, job.id, { attemptId: final.attempts[0].id, exitCode: null, outcome: 'cancelled', lines: [] })).rejects.toMatchObject({ code: 'conflict' });
    expect(paid(await entriesOf(job.id))).toBe(charge);
    await expectCleanAudit();
  }, 60_000);

  it('leaves a plain job as before: a duration deadline, charged from its start, settled once at its end', async () => {
    const consumer = await fundedAccount(d, 'renewal-consumer-plain', 10_000_000_000);
    const { job, nodeCaller, t0 } = await runningReplica(consumer.accountId);
    // the same job without a service link
    const { service: _s, ...plain } = job;
    await d.jobs.apply(job, { job: { ...plain, version: job.version + 1 }, effects: [] }, {});
    const j = (await d.jobs.get(job.id))!;
    expect(j.service).toBeUndefined();
    clock.t = t0 + PERIOD * 1000 - LEAD + 10;
    await expect(renewReplica(d, j, clock.t)).rejects.toMatchObject({ code: 'conflict' });
    expect((await reap(d)).renewals ?? 0).toBe(0);
    clock.t = t0 + 30_000 + 7;
    await finishAttempt(d, nodeCaller, j.id, { attemptId: j.attempts[0].id, exitCode: 0, outcome: 'exited', lines: [] });
    const entries = await entriesOf(j.id);
    expect(postingKeys(entries)).toEqual([holdKey(j.id, 0), settleKey(j.id, 0)].sort());
    expect(paid(entries)).toBe(exact(30_007));
    await expectCleanAudit();
  }, 60_000);
});
