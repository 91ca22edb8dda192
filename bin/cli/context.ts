// What a command runs with: its streams, environment and clock (injectable for tests), the chosen
// profile, a lazily made API client, and helpers for human and --json output.
import { requireCredentials, resolveProfile, type ResolvedProfile } from './config';
import { colors, useColor, type Colors } from './format';
import { cliClient, type ApiClient } from './http';
import type { Io } from './io';
import type { RetryEvent } from '../../client/client';
import { ApiError } from './errors';

export type { Io, OutStream } from './io';

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
  profile?: string;
}

export class Ctx {
  readonly c: Colors;
  readonly ce: Colors;
  private resolved?: ResolvedProfile;
  private client?: ApiClient;

  constructor(
    readonly io: Io,
    readonly opts: CommonOptions,
  ) {
    this.c = colors(useColor(io.stdout, io.env));
    this.ce = colors(useColor(io.stderr, io.env));
  }

  get json(): boolean {
    return Boolean(this.opts.json);
  }

  out(s: string): void {
    this.io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  }

  err(s: string): void {
    this.io.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
  }

  /** A note for people: on stderr, so stdout stays clean for pipes. */
  note(s: string): void {
    this.err(this.ce.dim(s));
  }

  printJson(v: unknown): void {
    this.out(JSON.stringify(v ?? null, null, 2));
  }

  profile(): ResolvedProfile {
    this.resolved ??= resolveProfile({ profile: this.opts.profile, env: this.io.env, warn: (m) => this.err(m) });
    return this.resolved;
  }

  /** On a terminal, a throttled or failed call that is tried again says so (stdout and pipes stay clean). */
  private readonly retryNote = (r: RetryEvent) => {
    if (!this.io.stderr.isTTY) return;
    const why = r.error instanceof ApiError ? `HTTP ${r.error.status}` : (r.error as Error).message;
    this.note(`gpupool: ${r.method} ${r.path}: ${why}; trying again in ${(r.waitMs / 1000).toFixed(1)}s`);
  };

  api(): ApiClient {
    if (!this.client) {
      const { apiUrl, apiKey } = requireCredentials(this.profile());
      this.client = cliClient(apiUrl, apiKey, { fetch: this.io.fetch, sleep: this.io.sleep, onRetry: this.retryNote });
    }
    return this.client;
  }
}

/** A path segment, escaped. */
export const seg = (s: string) => encodeURIComponent(s);
