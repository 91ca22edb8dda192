// Turns an API Gateway proxy event into what a route needs: the caller (from the authorizer's context),
// path parameters, query string and a JSON body checked for size, content type and syntax.
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { DomainError } from '../../domain/errors';
import { ROLES, type Caller, type Role } from '../../domain/model';

export const MAX_BODY_BYTES = 256 * 1024;
/** object keys no body may contain, at any depth */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface Request {
  caller?: Caller;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  rawBody: string;
  requestId: string;
  /** where the caller reached the API: API Gateway's stage (and any base path) that `event.path` leaves out */
  served?: { basePath: string; stage: string; apiId: string };
}

export function callerOf(event: APIGatewayProxyEvent): Caller | undefined {
  const a = event.requestContext?.authorizer as Record<string, unknown> | null | undefined;
  if (!a || typeof a.accountId !== 'string' || !ROLES.includes(a.role as Role)) return undefined;
  return {
    accountId: a.accountId,
    role: a.role as Role,
    keyId: String(a.keyId ?? ''),
    ...(typeof a.nodeId === 'string' && a.nodeId ? { nodeId: a.nodeId } : {}),
  };
}

function parseBody(event: APIGatewayProxyEvent, headers: Record<string, string>): { body: unknown; raw: string } {
  if (event.body === null || event.body === undefined || event.body === '') return { body: undefined, raw: '' };
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) throw new DomainError('payload_too_large', `bodies are limited to ${MAX_BODY_BYTES} bytes`);
  const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json' && !type.endsWith('+json')) throw new DomainError('unsupported_media_type', 'send the body as application/json');
  let forbiddenKey: string | undefined;
  try {
    // keys that reach into prototypes are refused anywhere in a body: `__proto__` would pollute, and a
    // `constructor` key fools the DynamoDB marshaller (it reads `value.constructor.name`) into a 500
    const body: unknown = JSON.parse(raw, (k, v) => {
      if (FORBIDDEN_KEYS.has(k)) forbiddenKey ??= k;
      return forbiddenKey ? undefined : v;
    });
    if (forbiddenKey === undefined) return { body, raw };
  } catch {
    throw new DomainError('bad_request', 'the body is not valid JSON');
  }
  throw new DomainError('bad_request', `the key ${JSON.stringify(forbiddenKey)} is not allowed anywhere in a body`);
}

export function toRequest(event: APIGatewayProxyEvent): Request {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const { body, raw } = parseBody(event, headers);
  return {
    caller: callerOf(event),
    params: (event.pathParameters ?? {}) as Record<string, string>,
    query: (event.queryStringParameters ?? {}) as Record<string, string>,
    headers,
    body,
    rawBody: raw,
    requestId: event.requestContext?.requestId ?? '',
    served: servedAt(event),
  };
}

/** `requestContext.path` is the path as called (`/prod/v1/x`), `event.path` the route's (`/v1/x`): the difference is the stage or base path */
function servedAt(event: APIGatewayProxyEvent): Request['served'] {
  const called = event.requestContext?.path ?? event.path ?? '';
  const basePath = event.path && called.endsWith(event.path) ? called.slice(0, called.length - event.path.length) : '';
  return { basePath, stage: event.requestContext?.stage ?? '', apiId: event.requestContext?.apiId ?? '' };
}
