// RFC 9457 problem documents. Domain errors map to their status; anything else is an opaque 500 whose
// details go to the log only, never to the caller.
import type { APIGatewayProxyResult } from 'aws-lambda';
import * as z from 'zod';
import { DomainError, type ErrorCode, type FieldError } from '../../domain/errors';
import { logger } from '../../observability/logger';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

/** The HTTP status of each domain error code: the transport's mapping, kept out of the domain. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_mismatch: 422,
  throttled: 429,
};

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export function problem(status: number, detail: string, code = 'error', errors?: FieldError[]): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({
      type: `https://gpupool.dev/problems/${code.replace(/_/g, '-')}`,
      title: TITLES[status] ?? 'Error',
      status,
      detail,
      ...(errors ? { errors } : {}),
    }),
  };
}

export function errorToProblem(e: unknown, requestId?: string): APIGatewayProxyResult {
  if (e instanceof DomainError) return problem(HTTP_STATUS[e.code], e.message, e.code, e.errors);
  logger.error('unhandled error', { requestId, error: e });
  return problem(500, 'internal error; the request id identifies it in the logs', 'internal');
}

/** zod issues → `{path, message}` */
export function zodErrors(err: z.ZodError): FieldError[] {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, where = 'body'): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new DomainError('validation_failed', `invalid ${where}`, zodErrors(r.error));
  return r.data;
}
