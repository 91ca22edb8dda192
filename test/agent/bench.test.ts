// GPUPOOL_BENCH_COMMAND: the agent runs the provider's benchmark while idle and reports its figure in
// signed probe answers; the checker flags a figure outside the claimed model's range.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log';
import { BenchRunner, parseBenchOutput, runBenchOnce } from '../../agent/probe/bench';
import { loadOrCreateNodeKey } from '../../agent/probe/node-key';
import { ProbeServer } from '../../agent/probe/server';
import { keyPairFromSecret, signPayload } from '../../functions/domain/checker/signing';
import { SignedProbeAnswerSchema } from '../../functions/domain/checker/probe';
import { judgeAnswer } from '../../functions/domain/checker/verify';

const log = createLogger({ level: 'error', write: () => {} });
const dir = mkdtempSync(join(tmpdir(), 'gpupool-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the benchmark', () => {
  it.each([
    ['742.5\n', 742.5],
    ['warming up\n312 TFLOPS\n', 312],
    ['done: 12\n', undefined],
    ['', undefined],
  ])('reads %j as %s', (out, tflops) => {
    expect(parseBenchOutput(out)).toBe(tflops);
  });

  it('runs the command, and gives nothing for a failing one', async () => {
    expect(await runBenchOnce('echo warming; echo 650')).toBe(650);
    expect(await runBenchOnce('echo 650; exit 1')).toBeUndefined();
  });

  it('runs only while the node is idle', async () => {
    let idle = false;
    const runner = new BenchRunner('echo 100', 3_600_000, () => idle, log);
    await runner.tick();
    expect(runner.result()).toBeUndefined();
    idle = true;
    await runner.tick();
    expect(runner.result()).toEqual({ tflops: 100 });
  });

  it('is reported in the signed probe answer and judged against the model', async () => {
    const cp = keyPairFromSecret(randomBytes(32).toString('hex'));
    const gpus = [{ index: 0, uuid: 'GPU-sim-0', model: 'A100', vramGb: 80 }];
    const nodeKey = await loadOrCreateNodeKey(dir);
    const server = new ProbeServer({ nodeKey, inventory: async () => ({ devices: gpus }), log, bench: () => ({ tflops: 5000 }) });
    server.setNodeId('n1');
    server.setControlPlaneKey(cp.publicKeyText);
    const port = await server.listen('127.0.0.1', 0);
    try {
      const probe = { nodeId: 'n1', nonce: randomBytes(16).toString('base64url'), issuedAt: Date.now() };
      const res = await fetch(`http://127.0.0.1:${port}/probe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ probe, signature: signPayload(cp.privateKey, 'probe', probe) }),
      });
      const { answer } = SignedProbeAnswerSchema.parse(await res.json());
      expect(answer.bench).toEqual({ tflops: 5000 });
      // an A100 cannot do 5,000 dense TFLOPS: flagged (not proof on its own)
      const verdict = judgeAnswer(gpus, probe, answer);
      expect(verdict.benchFlag).toMatch(/above what a A100 can do/);
    } finally {
      await server.close();
    }
  });
});
