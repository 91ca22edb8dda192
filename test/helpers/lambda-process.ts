// One deployed Lambda bundle in its own Node process (test/helpers/lambda-shim.mjs), with exactly the
// environment it is given (nothing inherited from the test process), invoked over loopback HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SHIM = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lambda-shim.mjs');

/**
 * The Node 22 binary of the `node` devDependency (the npm registry's node@22): the nodejs22.x runtime's
 * Node. A missing package is an error, never a silent fall-back to the test's own Node.
 */
export function node22(): string {
  const pkg = createRequire(import.meta.url).resolve('node/package.json');
  return path.join(path.dirname(pkg), 'bin', 'node');
}

export class InvokeError extends Error {
  constructor(
    readonly fn: string,
    readonly error: { name: string; message: string; stack?: string },
    readonly output: string,
  ) {
    super(`${fn} failed: ${error.name}: ${error.message}\n${error.stack ?? ''}\n--- its output ---\n${output}`);
  }
}

export interface LambdaProcess {
  name: string;
  proc: ChildProcess;
  /** process.version of the Node it runs on */
  node: string;
  /** how many times it was invoked */
  invocations(): number;
  /** everything it wrote to stdout and stderr so far */
  output(): string;
  /** Invokes the handler; throws InvokeError when it throws. `budgetMs`: what getRemainingTimeInMillis starts from. */
  invoke<T = unknown>(event: unknown, o: { budgetMs: number; requestId?: string }): Promise<T>;
  /** Like invoke, but returns the handler's error instead of throwing it. */
  invokeRaw(event: unknown, o: { budgetMs: number; requestId?: string }): Promise<{ ok: true; result: unknown } | { ok: false; error: { name: string; message: string; stack?: string } }>;
  stop(): Promise<void>;
}

export interface LambdaProcessOptions {
  name: string;
  /** the unpacked asset directory (LAMBDA_TASK_ROOT) */
  dir: string;
  /** the template's Handler, e.g. `index.handler` */
  handler: string;
  env: Record<string, string>;
  /** @default node22() */
  execPath?: string;
  readyTimeoutMs?: number;
}

/** Starts the process and waits until the bundle is loaded and its handler served (or its load failed). */
export async function startLambdaProcess(o: LambdaProcessOptions): Promise<LambdaProcess> {
  const proc = spawn(o.execPath ?? node22(), [SHIM], {
    cwd: o.dir,
    env: { ...o.env, LAMBDA_TASK_ROOT: o.dir, _HANDLER: o.handler },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let pending = '';
  let node = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.name}: not ready in ${o.readyTimeoutMs ?? 60_000} ms\n${out}`)), o.readyTimeoutMs ?? 60_000);
    const settle = (f: () => void) => {
      clearTimeout(timer);
      f();
    };
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      pending += c.toString('utf8');
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        if (!line.startsWith('{"ready":') && !line.startsWith('{"loadError":')) continue;
        const m = JSON.parse(line) as { ready?: number; node?: string; loadError?: { name: string; message: string; stack?: string } };
        node = m.node ?? '';
        if (m.ready) settle(() => resolve(m.ready!));
        else settle(() => reject(new InvokeError(`${o.name} (load)`, m.loadError!, out)));
      }
    });
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    proc.once('exit', (code, signal) => settle(() => reject(new Error(`${o.name}: exited (${code ?? signal}) before it was ready\n${out}`))));
    proc.once('error', (e) => settle(() => reject(e)));
  });
  const exited = new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));

  let invocations = 0;
  const invokeRaw: LambdaProcess['invokeRaw'] = async (event, io) => {
    invocations++;
    const r = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event, context: { awsRequestId: io.requestId ?? randomUUID(), deadlineMs: Date.now() + io.budgetMs } }),
    });
    return (await r.json()) as Awaited<ReturnType<LambdaProcess['invokeRaw']>>;
  };
  return {
    name: o.name,
    proc,
    node,
    invocations: () => invocations,
    output: () => out,
    invokeRaw,
    async invoke<T>(event: unknown, io: { budgetMs: number; requestId?: string }) {
      const r = await invokeRaw(event, io);
      if (!r.ok) throw new InvokeError(o.name, r.error, out);
      return r.result as T;
    },
    async stop() {
      proc.stdin?.end();
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
