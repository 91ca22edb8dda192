// Failover with given heartbeat periods, measured on the local stack with real agents: a job starts on
// node A, A's agent is killed with SIGKILL at once (before its first busy heartbeat), and the clock runs
// until the job is RUNNING on node B. Shared by test/e2e/failover-aws-periods.test.ts and `npm run bench`.
import { DEFAULT_DEADLINES } from '../../functions/domain/job/deadlines';
import { eventually } from './api';
import { startPool } from './local-pool';
import { pidsOfAttempt } from './procs';

export interface FailoverPeriods {
  busySeconds: number;
  idleSeconds: number;
  dispatchTimeoutSeconds: number;
  /** the reaper's pass cadence (functions/scheduled/reaper.ts: 5 s as deployed) */
  reaperSeconds: number;
}

/** cdk.json's defaults (heartbeat busy 5 s, idle 60 s, dispatch timeout 15 s) and the reaper's pass */
export const AWS_PERIODS: FailoverPeriods = { busySeconds: 5, idleSeconds: 60, dispatchTimeoutSeconds: 15, reaperSeconds: 5 };

export interface FailoverFigures {
  /** from A's start of the job (the control plane's startedAt) to the kill */
  killAfterStartMs: number;
  /** from the kill to the job's second attempt started on B */
  killToRunningMs: number;
  /** from A's start to B's start */
  startToStartMs: number;
  /** the node's write-off deadline after the start: DEADLINE_PERIODS × busy */
  deadlineAfterStartMs: number;
  lostAttempt: { nodeId: string; status: string; reason?: string };
  nodeStatus?: string;
}

export async function measureFailover(p: FailoverPeriods): Promise<FailoverFigures> {
  const pool = await startPool({
    settings: {
      heartbeat: { busySeconds: p.busySeconds, idleSeconds: p.idleSeconds },
      deadlines: { ...DEFAULT_DEADLINES, dispatchTimeoutMs: p.dispatchTimeoutSeconds * 1000 },
    },
    reaperMs: p.reaperSeconds * 1000,
    // the sweep at its AWS period: only the reaper's re-placement and a session may move the job
    sweepMs: 60_000,
  });
  let orphan: string | undefined;
  try {
    const provider = await pool.newAccount('provider');
    const consumer = await pool.newAccount('consumer');
    const a = await pool.addAgent({ name: 'failover-a', gpus: '1xL40S-48', providerKey: provider.key });
    const b = await pool.addAgent({ name: 'failover-b', gpus: '1xL40S-48', providerKey: provider.key, price: 9_000_000 });
    const d = pool.stack.deps;
    const submitted = await consumer.api.post('/v1/jobs', { command: ['sleep', '300'], resources: { gpus: 1, gpuModels: ['L40S'] }, maxAttempts: 5 });
    if (submitted.status !== 202) throw new Error(`submit: ${submitted.status}`);
    const id: string = submitted.body.job.id;
    const first = await eventually(async () => {
      const j = await d.jobs.get(id);
      return j?.status === 'RUNNING' ? j : undefined;
    }, 30_000, 'the job RUNNING on A');
    if (first.nodeId !== a.nodeId) throw new Error('the job went to the dearer node');
    a.proc.kill('SIGKILL');
    const killedAt = Date.now();
    orphan = first.attempts[0].id;
    const moved = await eventually(async () => {
      const j = await d.jobs.get(id);
      return j?.status === 'RUNNING' && j.nodeId === b.nodeId ? j : undefined;
    }, 5 * 60_000, 'the job RUNNING on B');
    const startedA = first.attempts[0].startedAt!;
    const startedB = moved.attempts.at(-1)!.startedAt!;
    const lost = moved.attempts[0];
    return {
      killAfterStartMs: killedAt - startedA,
      killToRunningMs: startedB - killedAt,
      startToStartMs: startedB - startedA,
      deadlineAfterStartMs: 4 * p.busySeconds * 1000,
      lostAttempt: { nodeId: lost.nodeId, status: lost.status, reason: lost.reason },
      nodeStatus: (await d.nodes.get(a.nodeId))?.status,
    };
  } finally {
    // the killed agent's job process outlives it (nothing restarts that agent here): end it
    if (orphan) for (const pid of pidsOfAttempt(orphan)) process.kill(pid, 'SIGKILL');
    await pool.stop();
  }
}
