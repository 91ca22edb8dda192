// The control plane's one logger: Powertools Logger, one JSON object per line on stdout (level, message,
// timestamp, service; with the Lambda context injected: function_request_id, cold_start, function_name, and
// xray_trace_id when tracing is on). Lambda's JSON log format passes these lines through as they are.
// Level from POWERTOOLS_LOG_LEVEL (or LOG_LEVEL), overridden by Lambda's own log level
// (AWS_LAMBDA_LOG_LEVEL) as Powertools does; INFO by default. docs/operations.md, Logs.
import { Logger } from '@aws-lambda-powertools/logger';

/**
 * An Error reduced to name, message, stack and cause. Powertools copies every own property of a logged
 * error, and some carry data that must not reach the logs: a DynamoDB TransactionCanceledException holds
 * the cancelled items (CancellationReasons[].Item, which may be a stored secret or a key's record), an SDK
 * error its `$response`. What an operator needs is the message and where it was thrown.
 */
export function loggableError(e: Error, depth = 0): Error {
  const safe = new Error(e.message);
  safe.name = e.name;
  safe.stack = e.stack;
  // an attacker-made cycle of causes must not hang the request
  if (e.cause !== undefined && depth < 5) safe.cause = e.cause instanceof Error ? loggableError(e.cause, depth + 1) : String(e.cause);
  return safe;
}

/** applied by Powertools to every value it serializes, before it formats errors itself */
const replaceErrors = (_key: string, value: unknown) => (value instanceof Error ? loggableError(value) : value);

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME || 'gpupool',
  jsonReplacerFn: replaceErrors,
});
