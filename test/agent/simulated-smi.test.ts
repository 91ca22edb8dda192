// The simulated nvidia-smi: the real captured table for the model, one block per visible device, -L and
// --query-gpu; and the files the agent puts on the jobs' PATH, run as a real program.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { simulatedDevices } from '../../agent/gpu/simulated';
import { captureFor, installSimulatedSmi, renderSmiData } from '../../agent/gpu/simulated-smi';
import { smiFixture } from './helpers/fixtures';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Installs the tool for a spec and runs it like a job would: CUDA_VISIBLE_DEVICES set, a minimal env. */
function smi(spec: { count: number; model: string; vramGb: number }, args: string[] = [], visible?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'gpupool-smi-'));
  dirs.push(dir);
  const bin = installSimulatedSmi(dir, simulatedDevices('sim-node', spec));
  return spawnSync('nvidia-smi', args, {
    encoding: 'utf8',
    env: { PATH: `${bin}:/usr/bin:/bin`, ...(visible === undefined ? {} : { CUDA_VISIBLE_DEVICES: visible }) },
  });
}

const withoutClock = (table: string) => table.replace(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} {7}\n/, '');

describe('simulated nvidia-smi', () => {
  it('prints the captured H100 table byte for byte (but for the clock) on a 1xH100-80 node', () => {
    const r = smi({ count: 1, model: 'H100', vramGb: 80 }, [], '0');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} {7}\n/);
    expect(withoutClock(r.stdout)).toBe(withoutClock(smiFixture('h100-sxm-1x-table.txt')));
  });

  it('shows only the GPUs the job was given, with their indices and the captured bus ids', () => {
    const all = smi({ count: 4, model: 'A100', vramGb: 80 }, []);
    // all four devices: the capture of a 4x A100 machine, exactly
    expect(withoutClock(all.stdout).trimEnd()).toBe(smiFixture('a100-sxm4-80gb-4x-table.txt').trimEnd());
    const two = smi({ count: 4, model: 'A100', vramGb: 80 }, [], '1,3');
    expect(two.stdout.match(/^\|\s+(\d) +NVIDIA A100-SXM4-80GB/gm)?.map((l) => l.match(/\d/)![0])).toEqual(['1', '3']);
    expect(two.stdout).toContain('00000000:9E:00.0');
    expect(two.stdout).toContain('00000000:D4:00.0');
    expect(two.stdout).not.toContain('00000000:68:00.0');
    const none = smi({ count: 1, model: 'A100', vramGb: 80 }, [], '');
    expect(none).toMatchObject({ status: 6, stdout: 'No devices were found\n' });
  });

  it('answers -L and --query-gpu like the real one', () => {
    const spec = { count: 2, model: 'A100', vramGb: 80 };
    const [d0, d1] = simulatedDevices('sim-node', spec);
    expect(smi(spec, ['-L'], '0,1').stdout).toBe(`GPU 0: NVIDIA A100-SXM4-80GB (UUID: ${d0.uuid})\nGPU 1: NVIDIA A100-SXM4-80GB (UUID: ${d1.uuid})\n`);
    expect(smi(spec, ['--query-gpu=index,name,memory.total', '--format=csv'], '1').stdout).toBe('index, name, memory.total\n1, NVIDIA A100-SXM4-80GB, 81920 MiB\n');
    expect(smi(spec, ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], '0').stdout).toBe('81920\n');
    expect(smi(spec, ['--query-gpu=clocks.sm', '--format=csv']).status).toBe(2);
  });

  it('adapts a real layout for models and sizes never captured, keeping the columns', () => {
    const a10g = captureFor('A10G', 24);
    expect(a10g.blocks[0][0]).toMatch(/^\|   0  NVIDIA A10G {20}On  \|/);
    expect(a10g.blocks[0][1]).toMatch(/\/  24576MiB \|/);
    const a100s = captureFor('A100', 40);
    expect(a100s.name).toBe('NVIDIA A100-SXM4-40GB');
    expect(a100s.blocks[0][1]).toMatch(/\/  40960MiB \|/);
    for (const c of [a10g, a100s]) for (const l of c.blocks[0]) expect(l.length).toBe(c.separator.length);
    const rows = renderSmiData(simulatedDevices('n', { count: 2, model: 'A10G', vramGb: 24 })).devices;
    expect(rows.map((r) => r.fields.name)).toEqual(['NVIDIA A10G', 'NVIDIA A10G']);
  });

  it('installs an executable wrapper that needs nothing but the agent\'s Node', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpupool-smi-'));
    dirs.push(dir);
    const bin = installSimulatedSmi(dir, simulatedDevices('n', { count: 1, model: 'L40S', vramGb: 48 }));
    expect(statSync(join(bin, 'nvidia-smi')).mode & 0o111).toBe(0o111);
    expect(execFileSync(join(bin, 'nvidia-smi'), ['-L'], { encoding: 'utf8', env: {} })).toMatch(/^GPU 0: NVIDIA L40S \(UUID: GPU-sim-/);
  });
});
