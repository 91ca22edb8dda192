// GPU inventory at startup: simulated devices when configured, else what nvidia-smi reports.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AgentConfig } from '../config';
import { buildInventory, parseGpuList, parseQueryCsv, QUERY_FIELDS, type Inventory } from './nvidia-smi';
import { simulatedDevices } from './simulated';

const run = promisify(execFile);

export class NoGpusError extends Error {
  override name = 'NoGpusError';
}

export async function discoverGpus(config: Pick<AgentConfig, 'simulatedGpus' | 'nodeName'>): Promise<Inventory> {
  if (config.simulatedGpus) {
    return { devices: simulatedDevices(config.nodeName, config.simulatedGpus), warnings: [] };
  }
  const csv = await queryGpus();
  // `-L` is cheap and the only place MIG mode shows; a failure here only costs the MIG warning.
  const list = await smi(['-L']).catch(() => '');
  const inventory = buildInventory(parseQueryCsv(csv), parseGpuList(list));
  if (inventory.devices.length === 0) throw new NoGpusError('nvidia-smi lists no GPUs');
  return inventory;
}

async function queryGpus(): Promise<string> {
  try {
    return await smi([`--query-gpu=${QUERY_FIELDS.join(',')}`, '--format=csv']);
  } catch (err) {
    if (isMissing(err)) {
      throw new NoGpusError('nvidia-smi not found: install the NVIDIA driver, or set GPUPOOL_SIMULATED_GPUS (e.g. 1xA100-80)');
    }
    // Drivers before compute_cap existed reject the whole query: ask again without it.
    return smi([`--query-gpu=${QUERY_FIELDS.filter((f) => f !== 'compute_cap').join(',')}`, '--format=csv']);
  }
}

async function smi(args: string[]): Promise<string> {
  const { stdout } = await run('nvidia-smi', args, { timeout: 30_000, maxBuffer: 1 << 20 });
  return stdout;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}
