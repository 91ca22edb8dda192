// EventBridge schedule: nodes that stopped heartbeating go OFFLINE and their work moves elsewhere; live
// jobs past a deadline (dispatch never acknowledged, max duration, cancel never confirmed) are ended, and
// service replicas whose billing period is about to end are renewed (usecases/renewal.ts).
//
// EventBridge runs this at most once a minute, but a node killed mid-job should lose its job within
// seconds of its deadline, not up to a minute after it. So one invocation makes a pass every
// REAPER_PASS_SECONDS (5 s) until its minute is over or its Lambda time runs short; each pass is the same
// conditional work as before, so a pass cut by the timeout or overlapping the next invocation is harmless.
import type { Context } from 'aws-lambda';
import { logger } from '../observability/logger';
import { observed } from '../observability/invocation';
import { reap, type ReapResult } from '../usecases/reaper';
import { lambdaRoot, type DepsRoot } from '../wiring/lambda-root';

export interface PassPlan {
  /** ms between the starts of two passes */
  passMs: number;
  /** no pass starts this long or later after the invocation began (the next invocation's turn) */
  windowMs: number;
  /** no pass starts with less Lambda time left than this */
  minBudgetMs: number;
}

export interface PassClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Lambda time left, ms */
  remainingMs(): number;
}

/** Runs `pass` at start, start + passMs, … while the plan allows; a slot a slow pass overran is skipped. */
export async function reapWithinSchedule(pass: () => Promise<ReapResult>, plan: PassPlan, clock: PassClock) {
  const start = clock.now();
  const total: ReapResult & { passes: number } = { passes: 0, nodesOffline: 0, attemptsLost: 0, removalsFinished: 0, jobsEnded: 0 };
  for (let slot = 0; ; ) {
    const r = await pass();
    total.passes++;
    total.nodesOffline += r.nodesOffline;
    total.attemptsLost += r.attemptsLost;
    total.removalsFinished += r.removalsFinished;
    total.jobsEnded += r.jobsEnded;
    if (r.renewals) total.renewals = (total.renewals ?? 0) + r.renewals;
    slot = Math.max(slot + 1, Math.ceil((clock.now() - start) / plan.passMs));
    const at = start + slot * plan.passMs;
    if (slot * plan.passMs >= plan.windowMs || clock.remainingMs() - (at - clock.now()) < plan.minBudgetMs) return total;
    await clock.sleep(at - clock.now());
  }
}

const seconds = (env: NodeJS.ProcessEnv, name: string, fallback: number) => {
  const v = Number(env[name]);
  return Number.isFinite(v) && v > 0 ? v * 1000 : fallback;
};

export const reaperHandler = (root: DepsRoot, env: NodeJS.ProcessEnv = process.env) =>
  observed(() => root().metrics, async (_event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
    const d = root();
    const plan: PassPlan = {
      passMs: seconds(env, 'REAPER_PASS_SECONDS', 5_000),
      windowMs: seconds(env, 'REAPER_WINDOW_SECONDS', 60_000),
      minBudgetMs: 4_000,
    };
    const clock: PassClock = {
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
      // called without a Lambda context (the local stack's timer, a script, a test): one pass
      remainingMs: () => context?.getRemainingTimeInMillis() ?? 0,
    };
    const result = await reapWithinSchedule(
      async () => {
        const r = await reap(d);
        if (r.nodesOffline || r.jobsEnded || r.removalsFinished || r.renewals) logger.info('reap pass', { ...r });
        return r;
      },
      plan,
      clock,
    );
    if (result.passes > 1) logger.info('reap', { ...result });
    return result;
  });

export const handler = reaperHandler(lambdaRoot());
