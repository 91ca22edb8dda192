// Errors API Gateway answers itself (no key, throttled, unknown path, authorizer crashed…) in the
// same RFC 9457 shape the handlers use: application/problem+json {type, title, status, detail}.
import * as apigw from 'aws-cdk-lib/aws-apigateway';

interface ProblemResponse {
  readonly type: apigw.ResponseType;
  /** the status this response is sent with; undefined for the DEFAULT_* catch-alls, which keep API Gateway's */
  readonly status?: number;
  readonly title: string;
}

/**
 * The response types a client meets in practice, each with the status the design fixes. Unknown
 * paths and methods come as MISSING_AUTHENTICATION_TOKEN (API Gateway's 403): they are answered
 * 404, as an unknown route is. The catch-alls cover the rest without claiming a status.
 */
export const PROBLEM_RESPONSES: readonly ProblemResponse[] = [
  { type: apigw.ResponseType.BAD_REQUEST_BODY, status: 400, title: 'Bad Request' },
  { type: apigw.ResponseType.BAD_REQUEST_PARAMETERS, status: 400, title: 'Bad Request' },
  { type: apigw.ResponseType.UNAUTHORIZED, status: 401, title: 'Unauthorized' },
  { type: apigw.ResponseType.ACCESS_DENIED, status: 403, title: 'Forbidden' },
  { type: apigw.ResponseType.INVALID_API_KEY, status: 403, title: 'Forbidden' },
  { type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, status: 404, title: 'Not Found' },
  { type: apigw.ResponseType.RESOURCE_NOT_FOUND, status: 404, title: 'Not Found' },
  { type: apigw.ResponseType.REQUEST_TOO_LARGE, status: 413, title: 'Content Too Large' },
  { type: apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, status: 415, title: 'Unsupported Media Type' },
  { type: apigw.ResponseType.THROTTLED, status: 429, title: 'Too Many Requests' },
  { type: apigw.ResponseType.QUOTA_EXCEEDED, status: 429, title: 'Too Many Requests' },
  { type: apigw.ResponseType.AUTHORIZER_FAILURE, status: 500, title: 'Internal Server Error' },
  { type: apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR, status: 500, title: 'Internal Server Error' },
  { type: apigw.ResponseType.INTEGRATION_FAILURE, status: 502, title: 'Bad Gateway' },
  { type: apigw.ResponseType.INTEGRATION_TIMEOUT, status: 504, title: 'Gateway Timeout' },
  { type: apigw.ResponseType.DEFAULT_4XX, title: 'Request Rejected' },
  { type: apigw.ResponseType.DEFAULT_5XX, title: 'Internal Server Error' },
];

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * The body template. Gateway response templates allow simple $context substitution only (no VTL):
 * messageString is already a quoted JSON string.
 */
export function problemTemplate(p: ProblemResponse): string {
  const status = p.status === undefined ? '' : `"status":${p.status},`;
  return `{"type":"about:blank","title":"${p.title}",${status}"detail":$context.error.messageString,"requestId":"$context.requestId"}`;
}

export function addProblemResponses(api: apigw.RestApi): void {
  for (const p of PROBLEM_RESPONSES) {
    const template = problemTemplate(p);
    api.addGatewayResponse(`Problem${p.type.responseType}`, {
      type: p.type,
      statusCode: p.status === undefined ? undefined : String(p.status),
      responseHeaders: { 'Content-Type': `'${PROBLEM_CONTENT_TYPE}'` },
      // API Gateway picks the template by the request's Accept; clients send JSON or nothing
      templates: { 'application/json': template, [PROBLEM_CONTENT_TYPE]: template },
    });
  }
}
