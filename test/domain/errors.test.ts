// Domain errors carry a code and no transport (issue 18): the HTTP kit maps codes to statuses.
import { describe, expect, it } from 'vitest';
import { conflict, DomainError, forbidden, JobChangedError, notFound } from '../../functions/domain/errors';
import { errorToProblem, HTTP_STATUS } from '../../functions/http/kit/problem';

describe('domain errors', () => {
  it('carry a code, never an HTTP status', () => {
    for (const e of [conflict('x'), notFound('job'), forbidden(), new JobChangedError(), new DomainError('throttled', 'slow down')]) {
      expect(e).toBeInstanceOf(DomainError);
      expect('status' in e).toBe(false);
    }
  });

  it('become problem documents with the status the HTTP kit gives their code', () => {
    expect(HTTP_STATUS).toMatchObject({ not_found: 404, conflict: 409, forbidden: 403, validation_failed: 400, throttled: 429 });
    const r = errorToProblem(new JobChangedError());
    expect(r.statusCode).toBe(409);
    expect(JSON.parse(r.body)).toMatchObject({ status: 409, title: 'Conflict', type: 'https://gpupool.dev/problems/conflict', detail: 'job changed concurrently' });
    expect(errorToProblem(notFound('job')).statusCode).toBe(404);
  });
});
