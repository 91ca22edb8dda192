// The control plane's log lines (functions/observability/logger.ts) as Lambda receives them: one JSON
// object per line with level, message, timestamp, service and the fields the code gave; the level set by
// the environment as Powertools reads it; and an error's own data (a cancelled transaction's items) never
// in a line. Each case runs in a fresh process (test/observability/helpers/log-child.ts).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const tsx = createRequire(import.meta.url).resolve('tsx');

interface Run {
  code: number | null;
  /** every line of stdout and stderr, parsed: a line that is not one JSON object fails the test */
  lines: Record<string, unknown>[];
  raw: string;
}

async function runChild(which: string, env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(POWERTOOLS_|AWS_LAMBDA_|LOG_LEVEL$|_X_AMZN_TRACE_ID$)/.test(k)));
  const child = spawn(process.execPath, ['--import', tsx, 'test/observability/helpers/log-child.ts', which], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let raw = '';
  child.stdout.on('data', (c: Buffer) => (raw += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (raw += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const lines = raw
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines, raw };
}

describe('control-plane logs', () => {
  it("a use case's warning is one JSON object: level, message, timestamp, service and its fields, the error by name and message", async () => {
    const run = await runChild('wake', { POWERTOOLS_SERVICE_NAME: 'gpupool-test' });
    expect(run.code).toBe(0);
    expect(run.lines).toHaveLength(1);
    const line = run.lines[0]!;
    expect(line).toMatchObject({ level: 'WARN', message: 'placement wake not sent; the scheduled sweep places the jobs', service: 'gpupool-test' });
    expect(new Date(line.timestamp as string).toISOString()).toBe(line.timestamp);
    const error = line.error as Record<string, unknown>;
    expect(typeof error.message).toBe('string');
    expect(error.message).not.toBe('');
    // the SDK error's own fields ($metadata, $fault…) are left out: name, where, what, stack
    expect(Object.keys(error).sort()).toEqual(['location', 'message', 'name', 'stack']);
  });

  it("without POWERTOOLS_SERVICE_NAME the service is 'gpupool'", async () => {
    const run = await runChild('wake');
    expect(run.lines.map((l) => l.service)).toEqual(['gpupool']);
  });

  it('an unhandled error that carries stored data logs its message and stack, never the data (nor its cause\'s)', async () => {
    const secret = `s3cr3t-${randomBytes(12).toString('hex')}`;
    const run = await runChild('unhandled', { TEST_SECRET: secret });
    expect(run.code).toBe(0);
    expect(run.raw).not.toContain(secret);
    expect(run.lines).toHaveLength(1);
    const line = run.lines[0]!;
    expect(line).toMatchObject({ level: 'ERROR', message: 'unhandled error', requestId: 'api-request-1' });
    expect(line.error).toMatchObject({ name: 'TransactionCanceledException', message: expect.stringContaining('ConditionalCheckFailed'), cause: { name: 'Error', message: 'inner failure' } });
    expect(JSON.stringify(line)).not.toContain('CancellationReasons');
  });

  it.each<{ env: Record<string, string>; levels: string[] }>([
    { env: {}, levels: ['INFO'] },
    { env: { POWERTOOLS_LOG_LEVEL: 'DEBUG' }, levels: ['DEBUG', 'INFO'] },
    { env: { POWERTOOLS_LOG_LEVEL: 'WARN' }, levels: [] },
    // Lambda's advanced logging level wins over the function's own, as Powertools documents
    { env: { POWERTOOLS_LOG_LEVEL: 'DEBUG', AWS_LAMBDA_LOG_LEVEL: 'INFO' }, levels: ['INFO'] },
  ])('level from the environment: $env → $levels', async ({ env, levels }) => {
    const run = await runChild('levels', env);
    expect(run.code).toBe(0);
    // Powertools itself warns once when the two levels disagree; that line is its own, not ours
    const ours = run.lines.filter((l) => l.message === 'debug line' || l.message === 'info line');
    expect(ours.map((l) => l.level)).toEqual(levels);
  });

  it("a handler's lines carry the Lambda context it was invoked with: request id, function name, cold start", async () => {
    // as Lambda's runtime sets it; without it (the local stack: every function in one process) no context is added
    const run = await runChild('invocation', { AWS_LAMBDA_FUNCTION_NAME: 'gpupool-dev-sweep' });
    expect(run.code).toBe(0);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toMatchObject({ level: 'INFO', message: 'inside the handler', placed: 2, function_request_id: 'req-42', function_name: 'gpupool-dev-sweep' });
    expect(typeof run.lines[0].cold_start).toBe('boolean');
  });
});
