// What the control plane makes of an agent's start calls and of the attempts its heartbeats list.
//
// A start whose answer was lost (timeout, 5xx) leaves the attempt RUNNING while the agent, having heard
// nothing, keeps the dispatch for a retry. Two rules close that gap without a clock shared between agent
// and control plane:
//  - a repeated start of the live, already started attempt by the node it runs on is answered like the
//    first (the retry runs it), and records the call's counter;
//  - a heartbeat lists every attempt the agent runs or is starting, with its start counter at the moment it
//    listed them. A RUNNING attempt on that node that is not listed, and whose latest start call the
//    agent had made by then (counter at or below the heartbeat's), is gone from the node: it is ended LOST.
// A start racing the heartbeat (counter above the heartbeat's) is never taken for lost, and an ASSIGNED
// attempt (dispatch not yet received) is left to the dispatch timeout. The writes are conditional on the
// job's version, so a repeated start and a heartbeat's loss cannot both win.
import type { Attempt, Job } from '../model';
import { liveAttemptOn } from './gang';
import { replaceAttempt } from './attempt-end';
import { start, type Transition } from './transitions';

/** The first start (ASSIGNED → RUNNING), or a repeat of it by the same node; the counter is recorded either way. */
export function startOnce(job: Job, attemptId: string, nodeId: string, now: number, seq?: number): Transition {
  const mine = liveAttemptOn(job, nodeId);
  if (mine?.id === attemptId && mine.status === 'RUNNING') {
    // a repeat: nothing changes but the counter (never lowered: an old retry arriving late must not
    // shield the attempt from a heartbeat that already knows better)
    if (seq === undefined || (mine.startSeq ?? -1) >= seq) return { job, effects: [] };
    return { job: { ...job, attempts: replaceAttempt(job, { ...mine, startSeq: seq }), version: job.version + 1 }, effects: [] };
  }
  const t = start(job, attemptId, now);
  if (seq === undefined) return t;
  const started = t.job.attempts.find((a) => a.id === attemptId)!;
  return { ...t, job: { ...t.job, attempts: replaceAttempt(t.job, { ...started, startSeq: seq }) } };
}

/** Whether a start left the job as it was (a repeat with nothing to record): no write needed. */
export const isNoop = (before: Job, t: Transition) => t.job === before;

/**
 * The attempt of `job` on `nodeId` that a heartbeat listing `reported` at counter `heartbeatSeq` shows
 * gone, if any. An attempt started by an agent that sent no counter is judged only against a heartbeat
 * that carries one (its start predates that agent process: the session at restart already settled it).
 */
export function unreportedAttempt(job: Job, nodeId: string, reported: ReadonlySet<string>, heartbeatSeq: number): Attempt | undefined {
  const a = liveAttemptOn(job, nodeId);
  if (!a || a.status !== 'RUNNING' || reported.has(a.id)) return undefined;
  return (a.startSeq ?? -1) <= heartbeatSeq ? a : undefined;
}
