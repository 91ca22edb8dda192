// Issue 14, "failover as fast as the pool promises": with the AWS periods (heartbeat 5 s busy, 60 s idle,
// dispatch timeout 15 s, the deployed reaper's pass every 5 s), an agent killed with SIGKILL right after
// its job started loses the job to another node within 30 s. The start moved the node to the busy
// deadline (4 × 5 s = 20 s after the start); the reaper sees it within one pass (≤ 5 s); the job is placed
// again in the same pass. docs/failure-handling.md has the arithmetic.
import { describe, expect, it } from 'vitest';
import { AWS_PERIODS, measureFailover } from '../helpers/failover';

describe('failover with the AWS periods', () => {
  it('a node killed (-9) right after starting a job: the job RUNNING elsewhere within 30 s', async () => {
    const f = await measureFailover(AWS_PERIODS);
    console.log(`failover (AWS periods): kill -9 ${f.killAfterStartMs} ms after the start → RUNNING on the other node ${f.killToRunningMs} ms later (${f.startToStartMs} ms start to start; deadline ${f.deadlineAfterStartMs} ms after the start)`);
    expect(f.lostAttempt).toMatchObject({ status: 'LOST', reason: 'NODE_LOST' });
    expect(f.nodeStatus).toBe('OFFLINE');
    // not before the deadline: the node was written off by the reaper, not by luck
    expect(f.startToStartMs).toBeGreaterThanOrEqual(f.deadlineAfterStartMs);
    // the target, 30 s, and 3 s for a loaded 2-core machine (busy 10 s would take 40-45 s and fail here)
    expect(f.killToRunningMs).toBeLessThanOrEqual(33_000);
  }, 180_000);
});
