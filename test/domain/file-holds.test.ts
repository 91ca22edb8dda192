// Which submits still hold an uploaded file (functions/domain/files/holds.ts): a delete is refused while one does.
import { describe, expect, it } from 'vitest';
import { holderState, stillNeeded, SUBMIT_GRACE_MS } from '../../functions/domain/files/holds';

const NOW = 10_000_000;

describe('file holders', () => {
  it('a holder holds while any of its jobs has not ended, and names that job', () => {
    expect(holderState([{ id: 'a-0', status: 'SUCCEEDED' }, { id: 'a-1', status: 'QUEUED' }], NOW - 3_600_000, NOW)).toEqual({ live: true, jobId: 'a-1', status: 'QUEUED' });
    expect(holderState([{ id: 'j', status: 'RUNNING' }], 0, NOW)).toMatchObject({ live: true, jobId: 'j' });
    expect(holderState([{ id: 'j', status: 'FAILED' }, { id: 'k', status: 'CANCELLED' }, { id: 'l', status: 'TIMED_OUT' }], NOW, NOW)).toEqual({ live: false });
  });

  it('a holder with no job yet is a submit being written: live for the grace period, then lapsed', () => {
    expect(holderState([], NOW - SUBMIT_GRACE_MS + 1, NOW)).toMatchObject({ live: true, status: 'SUBMITTING' });
    expect(holderState([], NOW - SUBMIT_GRACE_MS, NOW)).toEqual({ live: false });
  });

  it("the 409's words name the job and its status", () => {
    expect(stillNeeded('f1', 'h', { live: true, jobId: 'j1', status: 'QUEUED' })).toMatch(/file f1 is an input of job j1, which is QUEUED/);
    expect(stillNeeded('f1', 'h', { live: true, jobId: '', status: 'SUBMITTING' })).toMatch(/being submitted now \(h\)/);
  });
});
