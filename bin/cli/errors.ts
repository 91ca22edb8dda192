// The CLI's own errors. Each carries its exit code; `main` prints them as `error: ...`, never a stack.

/** An RFC 9457 problem document as the API returns it. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

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

/** The API answered with an error status; `problem` is its problem document (or one made from the answer). */
export class ApiError extends CliError {
  constructor(readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail ?? ''}`.replace(/: $/, ''), 1, (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`));
    this.name = 'ApiError';
  }
  get status() {
    return this.problem.status;
  }
}

/** The lines `main` prints for an error: `error: <title>: <detail>`, then one indented line per field error. */
export function errorLines(e: unknown): string[] {
  if (e instanceof CliError) return [`error: ${e.message}`, ...e.hints.map((h) => `  - ${h}`)];
  const msg = e instanceof Error ? e.message : String(e);
  return [`error: ${msg}`];
}
