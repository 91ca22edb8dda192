// In-process harness for the CLI: captured stdout/stderr, a temp config dir and a fetch stub that
// answers from a route table and records every request.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Io } from '../../bin/cli/io';
import { main } from '../../bin/cli/main';

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: any;
}

export type Handler = (req: Recorded) => { status?: number; body?: unknown; contentType?: string } | Promise<{ status?: number; body?: unknown; contentType?: string }>;

export function fakeFetch(routes: Record<string, Handler>, requests: Recorded[]): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const req: Recorded = {
      method: init?.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    requests.push(req);
    const key = `${req.method} ${req.path}`;
    const h = routes[key] ?? Object.entries(routes).find(([k]) => new RegExp(`^${k.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(key))?.[1];
    if (!h) {
      return new Response(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: `no route for ${url.pathname}` }), {
        status: 404,
        headers: { 'content-type': 'application/problem+json' },
      });
    }
    const r = await h(req);
    const status = r.status ?? 200;
    return new Response(r.body === undefined || status === 204 ? null : typeof r.body === 'string' ? r.body : JSON.stringify(r.body), {
      status,
      headers: { 'content-type': r.contentType ?? (status >= 400 ? 'application/problem+json' : 'application/json') },
    });
  }) as typeof fetch;
}

export interface Harness {
  dir: string;
  env: NodeJS.ProcessEnv;
  requests: Recorded[];
  run(args: string[], o?: { tty?: boolean; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }>;
  cleanup(): void;
}

export function harness(routes: Record<string, Handler>, env: NodeJS.ProcessEnv = {}): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-cli-'));
  const requests: Recorded[] = [];
  const baseEnv: NodeJS.ProcessEnv = { HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config'), ...env };
  return {
    dir,
    env: baseEnv,
    requests,
    async run(args, o = {}) {
      let stdout = '';
      let stderr = '';
      const stdin = new PassThrough() as unknown as Io['stdin'];
      const io: Io = {
        stdout: { write: (s: string) => (stdout += s), isTTY: o.tty },
        stderr: { write: (s: string) => (stderr += s), isTTY: o.tty },
        stdin,
        env: { ...baseEnv, ...o.env },
        now: Date.now,
        fetch: fakeFetch(routes, requests),
        // the API client's waits between tries (backoff, Retry-After) pass at once
        sleep: async () => undefined,
      };
      const code = await main(args, io);
      return { code, stdout, stderr };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
