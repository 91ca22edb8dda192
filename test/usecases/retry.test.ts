// retrying(): the one retry loop of the use cases. Its contract, with the clock and the jitter injected:
// it gives up after `retries` more tries with the typed error as thrown, retries nothing else, answers
// `exhausted` instead where a loop gives up quietly, and waits a bounded, jittered time between tries.
import { describe, expect, it, vi } from 'vitest';
import { conflict, JobChangedError } from '../../functions/domain/errors';
import { errorToProblem } from '../../functions/http/kit/problem';
import { InsufficientFundsError } from '../../functions/store/ledger-store';
import { final, isConflict, isLostRace, LostRaceError, MAX_RETRY_DELAY_MS, retryDelayMs, retrying } from '../../functions/usecases/retry';

const isJobChanged = (e: unknown) => e instanceof JobChangedError;

/** an op failing with `failures` in turn, then answering 'done'; the waits are recorded, not slept */
function harness(failures: unknown[]) {
  const waits: number[] = [];
  const sleep = vi.fn(async (ms: number) => void waits.push(ms));
  const op = vi.fn(async (_attempt: number, _last: unknown) => {
    const e = failures.shift();
    if (e) throw e;
    return 'done';
  });
  return { op, sleep, waits };
}

describe('retrying', () => {
  it('tries again on the named error and returns the try that went through', async () => {
    const first = new JobChangedError();
    const { op, sleep } = harness([first, new JobChangedError()]);
    await expect(retrying(op, { retries: 2, on: isJobChanged, sleep })).resolves.toBe('done');
    expect(op.mock.calls.map(([attempt]) => attempt)).toEqual([0, 1, 2]);
    // each try is told what the previous one lost with
    expect(op.mock.calls[0][1]).toBeUndefined();
    expect(op.mock.calls[1][1]).toBe(first);
    expect(sleep).toHaveBeenCalledTimes(2);
  });

  it.each([0, 1, 4, 8])('gives up after %i retries with the typed error itself', async (retries) => {
    const errors = Array.from({ length: 20 }, () => new JobChangedError());
    const last = errors[retries];
    const { op } = harness(errors);
    const p = retrying(op, { retries, on: isJobChanged, sleep: async () => {} });
    await expect(p).rejects.toBe(last);
    expect(op).toHaveBeenCalledTimes(retries + 1);
  });

  it('does not retry any other error, not even a 409 with the same words', async () => {
    for (const e of [conflict('job changed concurrently'), new Error('store down'), new InsufficientFundsError('a1')]) {
      const { op, sleep } = harness([e]);
      await expect(retrying(op, { retries: 5, on: isJobChanged, sleep })).rejects.toBe(e);
      expect(op).toHaveBeenCalledTimes(1);
      expect(sleep).not.toHaveBeenCalled();
    }
  });

  it('stops at an error that is not retried even after retried ones', async () => {
    const fatal = new Error('store down');
    const { op } = harness([new JobChangedError(), fatal, new JobChangedError()]);
    await expect(retrying(op, { retries: 5, on: isJobChanged, sleep: async () => {} })).rejects.toBe(fatal);
    expect(op).toHaveBeenCalledTimes(2);
  });

  it('answers `exhausted` with the last error once the retries are spent, and only then', async () => {
    const errors = [new LostRaceError('x'), new LostRaceError('y'), new LostRaceError('z')];
    const { op } = harness([...errors]);
    const exhausted = vi.fn(() => 'left as it is');
    await expect(retrying(op, { retries: 2, on: isLostRace, exhausted, sleep: async () => {} })).resolves.toBe('left as it is');
    expect(exhausted).toHaveBeenCalledWith(errors[2]);
    // not for an error that is not retried
    const fatal = new Error('store down');
    const other = harness([fatal]);
    await expect(retrying(other.op, { retries: 2, on: isLostRace, exhausted, sleep: async () => {} })).rejects.toBe(fatal);
    expect(exhausted).toHaveBeenCalledTimes(1);
  });

  it('an inner loop\'s spent error is not started over by an enclosing loop retrying the same class', async () => {
    const noWait = { sleep: async () => {} };
    const inner = vi.fn(async () => {
      throw new LostRaceError('inner item moved');
    });
    const outer = vi.fn(async () => retrying(inner, { retries: 2, on: isLostRace, ...noWait }));
    await expect(retrying(outer, { retries: 3, on: isLostRace, ...noWait })).rejects.toBeInstanceOf(LostRaceError);
    expect(outer).toHaveBeenCalledTimes(1);
    expect(inner).toHaveBeenCalledTimes(3);
    // the same for what `exhausted` throws
    const innerThrows = vi.fn(async () =>
      retrying(inner, { retries: 0, on: isLostRace, ...noWait, exhausted: () => { throw new LostRaceError('spent'); } }),
    );
    await expect(retrying(innerThrows, { retries: 3, on: isLostRace, ...noWait })).rejects.toThrow('spent');
    expect(innerThrows).toHaveBeenCalledTimes(1);
  });

  it('final(e): an op gives up on purpose (the thing it re-reads is gone) with the error it lost with', async () => {
    const op = vi.fn(async (attempt: number, last: unknown) => {
      if (attempt === 0) throw new JobChangedError();
      throw final(last);
    });
    const p = retrying(op, { retries: 5, on: isJobChanged, sleep: async () => {} });
    await expect(p).rejects.toBeInstanceOf(JobChangedError);
    expect(op).toHaveBeenCalledTimes(2);
    expect(final(undefined)).toBeUndefined();
  });

  it('waits a bounded, growing, jittered time between tries', async () => {
    const { op, sleep, waits } = harness(Array.from({ length: 16 }, () => new JobChangedError()));
    await retrying(op, { retries: 16, on: isJobChanged, sleep, random: () => 1 });
    expect(waits).toHaveLength(16);
    expect(waits.slice(0, 5)).toEqual([50, 90, 130, 170, 170]);
    expect(Math.max(...waits)).toBe(MAX_RETRY_DELAY_MS);
    // never zero (writers that collided do not go again at once), never over the cap, whatever the draw
    for (let n = 0; n < 40; n++) {
      expect(retryDelayMs(n, () => 0)).toBe(10);
      const r = retryDelayMs(n);
      expect(r).toBeGreaterThanOrEqual(10);
      expect(r).toBeLessThanOrEqual(MAX_RETRY_DELAY_MS);
    }
  });

  it('sleeps for real by default (a short wait, not a busy loop)', async () => {
    const { op } = harness([new JobChangedError()]);
    const t0 = performance.now();
    await retrying(op, { retries: 1, on: isJobChanged, random: () => 0 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(9);
  });

  it('a lost race spent reaches an HTTP caller as a 409 with the loop\'s words; isConflict is the code, not the text', () => {
    const r = errorToProblem(new LostRaceError('the account changed concurrently; try again'));
    expect(r.statusCode).toBe(409);
    expect(JSON.parse(r.body).detail).toBe('the account changed concurrently; try again');
    expect(isConflict(conflict('anything'))).toBe(true);
    expect(isConflict(new InsufficientFundsError('a'))).toBe(true);
    expect(isConflict(new Error('changed concurrently'))).toBe(false);
  });
});
