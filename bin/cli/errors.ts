// The CLI's own errors (each carries its exit code) and the API client's (exit 1); `main` prints them as
// `error: ...`, never a stack.

export { ApiError, NetworkError, type Problem } from '../../client/errors';
import { ApiError, NetworkError } from '../../client/errors';

/** Something went wrong that the user can act on: exit 1 (or `exitCode`). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly hints: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad arguments: exit 2, like commander's own usage errors. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** Errors of the CLI and of the API client: `main` prints them without a stack trace. */
export const isKnownError = (e: unknown): e is CliError | ApiError | NetworkError => e instanceof CliError || e instanceof ApiError || e instanceof NetworkError;

/** The lines `main` prints for an error: `error: <title>: <detail>`, then one indented line per field error. */
export function errorLines(e: unknown): string[] {
  if (e instanceof CliError || e instanceof ApiError) return [`error: ${e.message}`, ...e.hints.map((h) => `  - ${h}`)];
  if (e instanceof NetworkError) return [`error: ${e.message}`];
  const msg = e instanceof Error ? e.message : String(e);
  return [`error: ${msg}`];
}
