// Applies a job transition: the conditional transaction first, then the messages it implies.
// A message that fails to send is not retried here: the reaper's dispatch timeout re-places the job and
// the next heartbeat answer repeats a cancel, so DynamoDB alone decides what happens.
import type { Effect, Transition } from '../domain/job/transitions';
import type { Posting } from '../domain/ledger/model';
import { holdPosting, renewalPostings, settlementPosting } from '../domain/ledger/postings';
import type { Job, Node } from '../domain/model';
import { conflict, JobChangedError } from '../domain/errors';
import { agentJobId, dispatchMessage } from '../domain/job/dispatch';
import { CapacityRaceError } from '../store/jobs-store';
import type { Deps } from './deps';
import { ledgerSettings } from './parameters';
import type { UsageGuard } from '../domain/account-limits';
import { FINAL_JOB_STATUSES } from '../domain/model';
import { afterEnd } from './dependencies';
import { logger } from '../observability/logger';
import { final, retrying } from './retry';

type NodeRead = Pick<Node, 'id' | 'status' | 'freeGpus' | 'totalGpus' | 'queueUrl'> & { version?: number };

export interface ApplyOptions {
  /** node reads the caller already holds (a placer's); the nodes a release touches are read here otherwise */
  nodes?: Record<string, NodeRead>;
  /**
   * Apply only while the node is still at this version (the version that wrote it off). The reaper uses
   * it so that a node which came back in the meantime keeps the work it has started.
   */
  fence?: { nodeId: string; version: number };
  /** the job's account as the placer read it; a placement's transaction is conditioned on its limits */
  guard?: UsageGuard;
  /**
   * How many times a JobChangedError (another writer moved the job first) is answered by reading the job
   * again and re-making the transition from it; 0 (the default) lets the first one through to the caller.
   * Only that error is retried: a refusal by the transition itself (an attempt no longer live, a job already
   * ended) is the answer, and comes out of the re-made transition as before.
   */
  retries?: number;
}

// a release raced a node's write: re-read that node and the job; a claim is never retried here (the placer
// picks another node instead)
const RELEASE_RACE_RETRIES = 4;

export async function applyTransition(d: Deps, before: Job, make: (job: Job) => Transition, opts: ApplyOptions = {}): Promise<Job> {
  let job = before;
  return retrying(
    async (attempt, last) => {
      if (attempt > 0) {
        const fresh = await d.jobs.get(job.id);
        // gone: the JobChangedError it lost with is the answer
        if (!fresh) throw final(last);
        job = fresh;
      }
      return applyOnce(d, job, make, opts);
    },
    { retries: opts.retries ?? 0, on: (e) => e instanceof JobChangedError },
  );
}

async function applyOnce(d: Deps, before: Job, make: (job: Job) => Transition, { nodes = {}, fence, guard }: ApplyOptions): Promise<Job> {
  let job = before;
  // node reads still trusted; one whose release raced is dropped and read again on the next try
  const known: Record<string, NodeRead> = { ...nodes };
  let t: Transition | undefined;
  // releases are conditioned on the node's status; if it moved, re-read the node and try again
  return retrying(
    async (attempt) => {
      if (attempt > 0 && t) {
        for (const x of t.effects) if (x.kind === 'releaseGpus') delete known[x.nodeId];
        job = (await d.jobs.get(job.id)) ?? job;
      }
      t = make(job);
      const reads: Record<string, NodeRead> = { ...known };
      for (const e of t.effects) {
        if (e.kind === 'releaseGpus' && !reads[e.nodeId]) {
          const n = await d.nodes.get(e.nodeId);
          if (n) reads[e.nodeId] = n;
        }
      }
      if (fence && reads[fence.nodeId] && reads[fence.nodeId].version !== fence.version) throw conflict('the node came back');
      // a settlement charges the fee in force (enacted by governance over the deployment's setting)
      const settles = t.effects.some((x) => x.kind === 'settle' || x.kind === 'renew');
      const postings = ledgerPostings(settles ? { settings: { ...d.settings, ledger: await ledgerSettings(d) } } : d, t);
      const after = await d.jobs.apply(job, t, reads, fence, postings, guard);
      await sendMessages(d, after, t.effects, reads);
      // the jobs waiting for this one (`after`) are decided now, not at the next sweep
      if (FINAL_JOB_STATUSES.includes(after.status) && !FINAL_JOB_STATUSES.includes(job.status)) await afterEnd(d, after);
      if (job.startedAt === undefined && after.startedAt !== undefined) await recordStart(d, after);
      return after;
    },
    // a claim is never retried here: the placer picks another node instead
    { retries: RELEASE_RACE_RETRIES, on: (e) => e instanceof CapacityRaceError && !t?.effects.some((x) => x.kind === 'claimGpus') },
  );
}

async function sendMessages(d: Deps, job: Job, effects: Effect[], reads: Record<string, NodeRead>): Promise<void> {
  for (const e of effects) {
    if (e.kind !== 'dispatch' && e.kind !== 'sendCancel') continue;
    const queueUrl = reads[e.nodeId]?.queueUrl ?? (await d.nodes.get(e.nodeId))?.queueUrl;
    if (!queueUrl) continue;
    try {
      if (e.kind === 'dispatch') {
        await d.queues.sendToNode(e.nodeId, queueUrl, dispatchMessage(job, e.attemptId));
      } else {
        await d.queues.sendToNode(e.nodeId, queueUrl, { type: 'cancel', jobId: agentJobId(job), attemptId: e.attemptId });
      }
    } catch (err) {
      logger.warn('queue send failed; the reaper will recover', { jobId: job.id, error: err });
    }
  }
}

/**
 * A job's first start: how long it waited since its submit, counted for its node (GET /v1/offers shows the
 * median per GPU model and region). A checker's canary is not a consumer's wait. Best effort: a failed
 * write loses one sample, never the start.
 */
async function recordStart(d: Deps, job: Job): Promise<void> {
  if (job.pinNodeId || !job.nodeId) return;
  await d.jobs.startStats.record(job.nodeId, job.startedAt! - job.createdAt, job.startedAt!).catch((e) => {
    logger.warn('start sample not recorded', { jobId: job.id, error: e });
  });
}

/** The escrow holds and settlements a transition implies, from the attempts as they are after it. */
export function ledgerPostings(d: Pick<Deps, 'settings'>, t: Transition): Posting[] {
  const out: Posting[] = [];
  const job = t.job;
  for (const e of t.effects) {
    if (e.kind === 'renew') {
      // the attempt as renewed: its hold is the next period's, segmentStartedAt the renewal's time
      const a = job.attempts.find((x) => x.n === e.attempt);
      if (!a?.providerId || a.segmentStartedAt === undefined) throw new Error(`renewed attempt ${a?.id} has no provider or period start`);
      const base = { jobId: job.id, attempt: a.n, consumerId: job.accountId, providerId: a.providerId, nodeId: a.nodeId, at: a.segmentStartedAt };
      out.push(...renewalPostings({ ...base, hold: e.held, charge: e.charged, segment: e.segment, nextHold: a.hold ?? 0 }, d.settings.ledger));
      continue;
    }
    if (e.kind !== 'hold' && e.kind !== 'settle') continue;
    const a = job.attempts.find((x) => x.n === e.attempt);
    if (!a?.hold) continue;
    const at = (e.kind === 'hold' ? a.assignedAt : a.finishedAt) ?? a.assignedAt;
    if (e.kind === 'hold') {
      out.push(holdPosting({ jobId: job.id, attempt: a.n, consumerId: job.accountId, nodeId: a.nodeId, amount: a.hold, at }));
    } else {
      if (!a.providerId) throw new Error(`attempt ${a.id} has a hold but no provider`);
      out.push(
        settlementPosting(
          { jobId: job.id, attempt: a.n, consumerId: job.accountId, providerId: a.providerId, nodeId: a.nodeId, hold: a.hold, charge: a.charged ?? 0, at },
          d.settings.ledger,
        ),
      );
    }
  }
  return out;
}
