// A fake `nvidia-smi` for simulated nodes: jobs on a node with GPUPOOL_SIMULATED_GPUS find one on their
// PATH, so `gpupool run --gpus 1 -- nvidia-smi` shows what a real node of that model would show. It prints
// the real table captured for the model (agent/gpu/smi-captures.ts), with one block per device the job was
// given (CUDA_VISIBLE_DEVICES), plus `-L` and a small `--query-gpu` for the usual fields.
//
// The agent writes three files into <state dir>/simulated-bin at start: `nvidia-smi` (a sh wrapper that
// runs this Node binary on the script), `nvidia-smi.cjs` (the fixed script below) and `nvidia-smi.json`
// (every device's pre-rendered lines). Rendering happens here, in tested TypeScript; the script only picks
// the visible devices and prints, so it stays small enough to keep inline.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuDevice } from '../../functions/domain/model';
import { SMI_CAPTURES, type SmiCapture } from './smi-captures';

/** What the script reads: pre-rendered lines and per-device fields. */
export interface SmiData {
  header: string[];
  separator: string;
  footer: string[];
  devices: { index: number; block: string[]; list: string; fields: Record<string, string> }[];
}

/** The capture for a simulated model: exact when one was taken for that model and VRAM, else adapted. */
export function captureFor(model: string, vramGb: number): SmiCapture {
  const exact = SMI_CAPTURES[`${model}-${vramGb}`];
  if (exact) return exact;
  // same model with other memory (A100-40), or a model never captured (A10G): the H100 table with the
  // name and memory total put in, so the layout is still a real driver's
  const sameModel = Object.entries(SMI_CAPTURES).find(([k]) => k.startsWith(`${model}-`))?.[1];
  const base = sameModel ?? SMI_CAPTURES['H100-80'];
  const name = sameModel ? sameModel.name.replace(/\d+GB/, `${vramGb}GB`) : `NVIDIA ${model}`;
  const block = [...base.blocks[0]];
  block[0] = putName(block[0], base.name, name);
  block[1] = block[1].replace(/(\s*)(\d+)MiB \|(\s*\d+%)/, (_m, sp: string, mib: string, rest: string) => {
    const total = `${vramGb * 1024}`;
    return `${' '.repeat(Math.max(0, sp.length + mib.length - total.length))}${total}MiB |${rest}`;
  });
  return { ...base, name, blocks: [block], source: `${base.source} (adapted: ${name}, ${vramGb} GB)` };
}

/** Puts `next` where the captured name stands, keeping the columns: padded, or cut with "..." as old drivers cut names. */
function putName(line: string, old: string, next: string): string {
  const at = line.indexOf(old);
  const m = at < 0 ? null : /\s(On|Off)\s+\|/.exec(line.slice(at + old.length));
  if (!m) return line;
  const width = old.length + m.index; // the name's field ends at the space before Persistence-M
  const fitted = next.length > width ? `${next.slice(0, width - 3)}...` : next.padEnd(width);
  return line.slice(0, at) + fitted + line.slice(at + width);
}

const BUS_ID = /[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.\d/;

export function renderSmiData(devices: readonly GpuDevice[]): SmiData {
  const cap = captureFor(devices[0]?.model ?? 'H100', devices[0]?.vramGb ?? 80);
  return {
    header: cap.header,
    separator: cap.separator,
    footer: cap.footer,
    devices: devices.map((d) => {
      const captured = cap.blocks[d.index];
      // past the captured machine's GPUs: GPU 0's rows with this index and a made-up bus id
      const busId = `00000000:${(0x10 + d.index).toString(16).toUpperCase().padStart(2, '0')}:00.0`;
      const block = captured ?? cap.blocks[0].map((l, row) => (row === 0 ? l.replace(/^\|\s{3}0 /, `|${String(d.index).padStart(4)} `).replace(BUS_ID, busId) : l));
      const memMiB = /\/\s*(\d+)MiB/.exec(block[1])?.[1] ?? String(d.vramGb * 1024);
      const driver = /Driver Version: (\S+)/.exec(cap.header.join('\n'))?.[1] ?? '';
      return {
        index: d.index,
        block,
        list: `GPU ${d.index}: ${cap.name} (UUID: ${d.uuid})`,
        fields: { index: String(d.index), name: cap.name, uuid: d.uuid, 'pci.bus_id': BUS_ID.exec(block[0])?.[0] ?? busId, 'memory.total': `${memMiB} MiB`, 'memory.used': '0 MiB', 'utilization.gpu': '0 %', 'temperature.gpu': '30', 'power.draw': '60.00 W', driver_version: driver, compute_cap: '' },
      };
    }),
  };
}

/** The script the wrapper runs: CommonJS and dependency-free, so it runs from any directory and any Node. */
export const SMI_SCRIPT = `'use strict';
// gpupool's simulated nvidia-smi: prints ${'`'}nvidia-smi.json${'`'} next to it (written by the agent).
const data = JSON.parse(require('fs').readFileSync(require('path').join(__dirname, 'nvidia-smi.json'), 'utf8'));
const args = process.argv.slice(2);
const cvd = process.env.CUDA_VISIBLE_DEVICES;
const wanted = cvd === undefined ? null : cvd.split(',').map((s) => s.trim()).filter(Boolean);
const devices = wanted === null ? data.devices : data.devices.filter((d) => wanted.includes(String(d.index)) || wanted.includes(d.fields.uuid));
const out = (lines) => process.stdout.write(lines.join('\\n') + '\\n');
if (devices.length === 0) {
  process.stdout.write('No devices were found\\n');
  process.exit(6);
}
if (args.includes('-L') || args.includes('--list-gpus')) {
  out(devices.map((d) => d.list));
} else if (args.some((a) => a.startsWith('--query-gpu='))) {
  const fields = args.find((a) => a.startsWith('--query-gpu=')).slice(12).split(',').map((s) => s.trim());
  const format = (args.find((a) => a.startsWith('--format=')) || '--format=csv').slice(9).split(',');
  const unknown = fields.filter((f) => !(f in devices[0].fields));
  if (unknown.length) {
    process.stderr.write('Field "' + unknown[0] + '" is not a valid field to query (simulated nvidia-smi).\\n');
    process.exit(2);
  }
  const rows = devices.map((d) => fields.map((f) => (format.includes('nounits') ? d.fields[f].replace(/ (MiB|%|W)$/, '') : d.fields[f])).join(', '));
  out(format.includes('noheader') ? rows : [fields.join(', '), ...rows]);
} else if (args.length === 0) {
  const now = new Date().toString().split(' ');
  // like "Tue Jul 14 08:12:38 2026": the day of the month padded to two places
  out([[now[0], now[1], now[2].replace(/^0/, ' '), now[4], now[3]].join(' ') + '       ', ...data.header, ...devices.flatMap((d) => [...d.block, data.separator]), ...data.footer]);
} else {
  process.stderr.write('simulated nvidia-smi: only the table, -L and --query-gpu=... --format=csv are simulated\\n');
  process.exit(2);
}
`;

/**
 * Writes the fake nvidia-smi for these devices into `<stateDir>/simulated-bin` and returns that directory,
 * for the front of the jobs' PATH (never the agent's own: the agent must not mistake it for a driver).
 */
export function installSimulatedSmi(stateDir: string, devices: readonly GpuDevice[], nodePath = process.execPath): string {
  const dir = join(stateDir, 'simulated-bin');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'nvidia-smi.json'), JSON.stringify(renderSmiData(devices)));
  writeFileSync(join(dir, 'nvidia-smi.cjs'), SMI_SCRIPT);
  const wrapper = join(dir, 'nvidia-smi');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${shellQuote(nodePath)} ${shellQuote(join(dir, 'nvidia-smi.cjs'))} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return dir;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
