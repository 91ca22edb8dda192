// `gpupool run` arguments → the POST /v1/jobs body, both as a pure function and through the real
// command line parser (passThroughOptions, repeatable options, `--`).
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../bin/cli/errors';
import { buildJobBody, parseDurationSeconds, parseEnv } from '../../bin/cli/run-spec';
import { harness, type Harness } from './fake-io';

describe('buildJobBody', () => {
  it('maps every option', () => {
    const body = buildJobBody(['python', 'train.py', '--epochs', '3'], {
      gpus: '2',
      gpuModel: ['H100', 'A100,L40S', 'H100'],
      minVram: '40',
      region: ['eu-west', 'eu-central'],
      maxPrice: '2.5',
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      env: ['WANDB_MODE=offline', 'EMPTY=', 'EQ=a=b', 'FROM_HOST'],
      maxDuration: '1h30m',
      maxAttempts: '2',
      priority: '-5',
      name: 'resnet',
    }, { FROM_HOST: 'yes' });
    expect(body).toEqual({
      name: 'resnet',
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      command: ['python', 'train.py', '--epochs', '3'],
      env: { WANDB_MODE: 'offline', EMPTY: '', EQ: 'a=b', FROM_HOST: 'yes' },
      resources: { gpus: 2, gpuModels: ['H100', 'A100', 'L40S'], minVramGb: 40 },
      placement: { regions: ['eu-west', 'eu-central'] },
      maxPricePerGpuHour: 2_500_000,
      maxDurationSeconds: 5400,
      maxAttempts: 2,
      priority: -5,
    });
  });

  it('sends only what was given: one GPU by default', () => {
    expect(buildJobBody(['echo', 'ok'], {})).toEqual({ command: ['echo', 'ok'], env: {}, resources: { gpus: 1 } });
  });

  it('refuses bad values as usage errors (exit 2)', () => {
    const bad: [string[], object][] = [
      [[], {}],
      [['x'], { gpus: '0' }],
      [['x'], { gpus: 'two' }],
      [['x'], { minVram: '1.5' }],
      [['x'], { maxPrice: 'cheap' }],
      [['x'], { maxDuration: '10 minutes' }],
      [['x'], { env: ['=v'] }],
      [['x'], { env: ['NOT_SET_ANYWHERE'] }],
      [['x'], { priority: '1000' }],
    ];
    for (const [cmd, o] of bad) {
      let err: unknown;
      try {
        buildJobBody(cmd, o, {});
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(o)).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(2);
    }
  });

  it('parses durations and env pairs', () => {
    expect(parseDurationSeconds('3600', 'x')).toBe(3600);
    expect(parseDurationSeconds('90s', 'x')).toBe(90);
    expect(parseDurationSeconds('2h', 'x')).toBe(7200);
    expect(parseDurationSeconds('1d', 'x')).toBe(86_400);
    expect(parseEnv(['A=1', 'A=2'], {})).toEqual({ A: '2' });
  });
});

describe('gpupool run through the command line', () => {
  let h: Harness;
  afterEach(() => h?.cleanup());

  const finished = { id: 'j1', status: 'SUCCEEDED', exitCode: 0, nodeId: 'n1', attempts: [], cost: { charged: 0, gpuSeconds: 0 } };
  const routes = {
    'POST /v1/jobs': () => ({ status: 202, body: { job: { ...finished, status: 'QUEUED', exitCode: null } } }),
    'GET /v1/jobs/{id}': () => ({ body: { job: finished } }),
    'GET /v1/jobs/{id}/logs': () => ({ body: { items: [], last: -1 } }),
  };

  it('posts the body built from the options, with the key and an Idempotency-Key', async () => {
    h = harness(routes, { GPUPOOL_API_URL: 'http://api.test', GPUPOOL_API_KEY: 'gp_key' });
    const r = await h.run([
      'run', '--gpus', '2', '--gpu-model', 'H100', '--gpu-model', 'A100', '--min-vram', '80', '--region', 'eu-west',
      '--max-price', '3', '-e', 'A=1', '--env', 'B=2', '--max-duration', '600', '--name', 'n', '--image', 'img',
      '--poll-interval', '10', '--', 'sh', '-c', 'echo hi; exit 3',
    ]);
    expect(r.code).toBe(0);
    const post = h.requests.find((q) => q.method === 'POST')!;
    expect(post.path).toBe('/v1/jobs');
    expect(post.headers['x-api-key']).toBe('gp_key');
    expect(post.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(post.body).toEqual({
      name: 'n',
      image: 'img',
      command: ['sh', '-c', 'echo hi; exit 3'],
      env: { A: '1', B: '2' },
      resources: { gpus: 2, gpuModels: ['H100', 'A100'], minVramGb: 80 },
      placement: { regions: ['eu-west'] },
      maxPricePerGpuHour: 3_000_000,
      maxDurationSeconds: 600,
    });
  });

  it('passes the command\'s own options through, even without --', async () => {
    h = harness(routes, { GPUPOOL_API_URL: 'http://api.test', GPUPOOL_API_KEY: 'k' });
    await h.run(['run', '--gpus', '1', '--poll-interval', '10', 'python', 'train.py', '--epochs', '3', '--json']);
    expect(h.requests[0].body.command).toEqual(['python', 'train.py', '--epochs', '3', '--json']);
  });

  it('exits 2 without a command or with a bad option, and sends nothing', async () => {
    h = harness(routes, { GPUPOOL_API_URL: 'http://api.test', GPUPOOL_API_KEY: 'k' });
    const none = await h.run(['run', '--gpus', '1']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to run/);
    const bad = await h.run(['run', '--gpus', 'lots', '--', 'echo']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --gpus must be a whole number/m);
    const unknown = await h.run(['run', '--gpu', 'H100', '--', 'echo']);
    expect(unknown.code).toBe(2);
    expect(h.requests).toHaveLength(0);
  });

  it('--detach prints the job id and returns at once; --json prints the 202 answer', async () => {
    h = harness(routes, { GPUPOOL_API_URL: 'http://api.test', GPUPOOL_API_KEY: 'k' });
    const r = await h.run(['run', '--detach', '--', 'echo']);
    expect(r).toMatchObject({ code: 0, stdout: 'j1\n' });
    const j = await h.run(['run', '-d', '--json', '--', 'echo']);
    expect(JSON.parse(j.stdout).job).toMatchObject({ id: 'j1', status: 'QUEUED' });
    expect(h.requests.filter((q) => q.method === 'GET')).toHaveLength(0);
  });
});
