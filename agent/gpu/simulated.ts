// Fake GPUs for hosts without nvidia-smi (the local stack, CI, demos). The spec reads like a cloud SKU:
// `2xA100-80` is two A100s with 80 GB each. Uuids derive from the node name, so a restarted simulated
// node presents the same devices and the control plane sees the same node.
import { createHash } from 'node:crypto';
import type { GpuDevice } from '../../functions/domain/model';

export interface SimulatedSpec {
  count: number;
  model: string;
  vramGb: number;
}

const SPEC = /^(\d{1,2})x([A-Za-z][A-Za-z0-9]{0,31})-(\d{1,4})$/;

/** Parses `NxMODEL-VRAM`; returns an error sentence instead of throwing so config can collect it. */
export function parseSimulatedSpec(text: string): SimulatedSpec | { error: string } {
  const m = SPEC.exec(text.trim());
  if (!m) return { error: `expected COUNTxMODEL-VRAMGB such as 2xA100-80, got "${text}"` };
  const count = Number(m[1]);
  const vramGb = Number(m[3]);
  if (count < 1 || count > 64) return { error: `GPU count must be 1..64, got ${count}` };
  if (vramGb < 1) return { error: `VRAM must be at least 1 GB, got ${vramGb}` };
  return { count, model: m[2].toUpperCase(), vramGb };
}

export function simulatedDevices(nodeName: string, spec: SimulatedSpec): GpuDevice[] {
  return Array.from({ length: spec.count }, (_, index) => ({
    index,
    uuid: simulatedUuid(nodeName, index),
    model: spec.model,
    vramGb: spec.vramGb,
    name: `Simulated ${spec.model} ${spec.vramGb}GB`,
  }));
}

/** `GPU-sim-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`: the real uuid shape, marked so nobody mistakes it. */
export function simulatedUuid(nodeName: string, index: number): string {
  const h = createHash('sha256').update(`${nodeName}\0${index}`).digest('hex');
  return `GPU-sim-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
