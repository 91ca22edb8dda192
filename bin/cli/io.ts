// The process's streams, environment and clock, behind an interface tests can replace.

export interface OutStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Io {
  stdout: OutStream;
  stderr: OutStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  now(): number;
  /** fetch for the API client (tests may stub it) */
  fetch?: typeof fetch;
  /** how the API client waits between tries (tests may make it instant) */
  sleep?: (ms: number) => Promise<void>;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, now: Date.now };
}
