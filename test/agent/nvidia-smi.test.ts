import { describe, expect, it } from 'vitest';
import { buildInventory, mibToGb, normaliseModel, parseGpuList, parseQueryCsv } from '../../agent/gpu/nvidia-smi';
import { smiFixture } from './helpers/fixtures';

// Each case is a real capture (test/fixtures/nvidia-smi/SOURCES.md). None is the agent's exact query, so
// the cases also prove the header-driven parser reads whatever subset and order of fields a capture has.
describe('nvidia-smi query parsing on real captures', () => {
  it.each([
    {
      capture: 'H100 SXM, 1 GPU, all fields (driver 590)',
      csv: 'h100-sxm-1x-query-allfields.csv',
      list: undefined,
      count: 1, model: 'H100', vramGb: 80, name: 'NVIDIA H100 80GB HBM3', computeCap: '9.0', driver: '590.48.01',
      uuid0: 'GPU-00000000-0000-0000-0000-000000000000',
    },
    {
      capture: 'L40S, 1 GPU, all fields (driver 595)',
      csv: 'l40s-1x-query-allfields.csv',
      list: undefined,
      count: 1, model: 'L40S', vramGb: 45, name: 'NVIDIA L40S', computeCap: '8.9', driver: '595.80',
      uuid0: 'GPU-00000000-0000-0000-0000-000000000000',
    },
    {
      capture: 'A100 SXM4 80GB, 8 GPUs, name/memory/driver + -L for uuids',
      csv: 'a100-sxm4-80gb-8x-query.csv',
      list: 'a100-sxm4-80gb-8x-list.txt',
      count: 8, model: 'A100', vramGb: 80, name: 'NVIDIA A100-SXM4-80GB', computeCap: undefined, driver: '570.133.20',
      uuid0: 'GPU-55748b5b-32df-bbd9-d0f6-f50980c12af8',
    },
    {
      capture: 'A10G, 4 GPUs, index/name/memory + -L for uuids',
      csv: 'a10g-4x-query.csv',
      list: 'a10g-4x-list.txt',
      count: 4, model: 'A10G', vramGb: 22, name: 'NVIDIA A10G', computeCap: undefined, driver: undefined,
      uuid0: 'GPU-ec973bb4-b7db-68e7-4fa2-1d5fa75eeac9',
    },
  ])('$capture', ({ csv, list, count, model, vramGb, name, computeCap, driver, uuid0 }) => {
    const inv = buildInventory(parseQueryCsv(smiFixture(csv)), list ? parseGpuList(smiFixture(list)) : []);
    expect(inv.devices).toHaveLength(count);
    expect(inv.devices.map((d) => d.index)).toEqual([...Array(count).keys()]);
    expect(inv.devices[0]).toEqual({ index: 0, uuid: uuid0, model, vramGb, name, ...(computeCap ? { computeCap } : {}) });
    expect(new Set(inv.devices.map((d) => d.uuid)).size).toBe(count);
    expect(inv.driverVersion).toBe(driver);
    expect(inv.warnings).toEqual([]);
  });

  it('reads units off the header and the values', () => {
    const rows = parseQueryCsv(smiFixture('l40s-2x-query.csv'));
    expect(rows).toEqual([
      { name: 'NVIDIA L40S', driver_version: '595.71.05', 'memory.total': '46068', 'pci.bus_id': '00000000:01:00.0', 'pci.device_id': '0x26B910DE' },
      { name: 'NVIDIA L40S', driver_version: '595.71.05', 'memory.total': '46068', 'pci.bus_id': '00000000:91:00.0', 'pci.device_id': '0x26B910DE' },
    ]);
  });

  it('refuses a capture without uuids when -L cannot supply them', () => {
    expect(() => buildInventory(parseQueryCsv(smiFixture('l40s-2x-query.csv')))).toThrow(/GPU 0: nvidia-smi reported no uuid/);
  });

  it('refuses output without a CSV header (the agent always asks for one)', () => {
    expect(() => parseQueryCsv('0, GPU-1, NVIDIA L4, 23034, 550.90.07, 8.9\n')).toThrow(/no CSV header/);
  });

  it('warns about MIG mode, seen only in the -L listing', () => {
    const list = parseGpuList(smiFixture('h100-sxm-mig-list.txt'));
    expect(list).toEqual([{ index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-00000000-0000-0000-0000-000000000000', migDevices: 4 }]);
    const inv = buildInventory(parseQueryCsv(smiFixture('h100-sxm-1x-query-allfields.csv')), list);
    expect(inv.warnings).toEqual(['GPU 0 is in MIG mode (4 instances); the agent offers whole GPUs only']);
  });

  it('keeps only the first model on a mixed host, with a warning', () => {
    // Two real captures joined: no single capture of a mixed host exists.
    const rows = [...parseQueryCsv(smiFixture('a10g-4x-query.csv')), ...parseQueryCsv(smiFixture('h100-sxm-1x-query-allfields.csv'))];
    const inv = buildInventory(rows, parseGpuList(smiFixture('a10g-4x-list.txt')));
    expect(inv.devices.map((d) => d.model)).toEqual(['A10G', 'A10G', 'A10G', 'A10G']);
    expect(inv.warnings).toEqual(['mixed GPU models A10G, H100: offering only the A10G devices']);
  });
});

describe('nvidia-smi -L parsing', () => {
  it.each([
    ['t4-1x-list.txt', 1, 'Tesla T4', 'GPU-6cf00fa7-59ac-16f2-3e83-d24ccdc56f84', 0],
    ['t4-colab-list.txt', 1, 'Tesla T4', 'GPU-9ba4ce04-e020-44f9-8fc3-337ba5bb5496', 0],
    ['h100-pcie-1x-list.txt', 1, 'NVIDIA H100 PCIe', 'GPU-023a2d83-c6a4-abe9-f546-d5957c1427e2', 0],
    ['a100-sxm4-80gb-4x-mig-list.txt', 4, 'NVIDIA A100-SXM4-80GB', 'GPU-513536b6-7d19-9063-b049-1e69664bb298', 4],
  ])('%s', (file, count, name, uuid, mig) => {
    const list = parseGpuList(smiFixture(file));
    expect(list).toHaveLength(count);
    expect(list[0]).toEqual({ index: 0, name, uuid, migDevices: mig });
    expect(list.slice(1).every((g) => g.migDevices === 0)).toBe(true);
  });
});

/** `|   0  NVIDIA GeForce RTX 4090        On  |  … |  232MiB /  24564MiB |` → name and MiB of GPU 0. */
function firstTableGpu(file: string): { name: string; mib: number } {
  const text = smiFixture(file);
  const name = /^\|\s+0\s+(.+?)\s+(On|Off)\s*\|/m.exec(text)?.[1];
  const mib = /\/\s*(\d+)MiB\s*\|/.exec(text)?.[1];
  if (!name || !mib) throw new Error(`no GPU 0 in ${file}`);
  return { name, mib: Number(mib) };
}

describe('model names and VRAM from the real tables (names and sizes only: the agent never parses tables)', () => {
  it.each([
    ['rtx4090-1x-table.txt', 'NVIDIA GeForce RTX 4090', 'RTX4090', 24],
    ['rtx4090-8x-table.txt', 'NVIDIA GeForce RTX 4090', 'RTX4090', 24],
    ['rtx3090-2x-table.txt', 'NVIDIA GeForce RTX 3090', 'RTX3090', 24],
    ['t4-colab-table.txt', 'Tesla T4', 'T4', 15],
    ['l4-1x-table.txt', 'NVIDIA L4', 'L4', 22],
  ])('%s', (file, name, model, gb) => {
    const gpu = firstTableGpu(file);
    expect(gpu.name).toBe(name);
    expect(normaliseModel(gpu.name)).toBe(model);
    expect(mibToGb(gpu.mib)).toBe(gb);
  });
});

describe('normaliseModel', () => {
  it.each([
    ['NVIDIA H100 80GB HBM3', 'H100'],
    ['NVIDIA H100 PCIe', 'H100'],
    ['NVIDIA A100-SXM4-80GB', 'A100'],
    ['NVIDIA A100 80GB PCIe', 'A100'],
    ['NVIDIA A100-PCIE-40GB', 'A100'],
    ['NVIDIA GeForce RTX 4090', 'RTX4090'],
    ['NVIDIA GeForce RTX 3090', 'RTX3090'],
    ['GeForce RTX 2080', 'RTX2080'], // older drivers drop the NVIDIA prefix
    ['NVIDIA L40S', 'L40S'],
    ['NVIDIA L4', 'L4'],
    ['Tesla T4', 'T4'],
    ['NVIDIA A10G', 'A10G'],
    ['Tesla V100-SXM2-16GB', 'V100'],
    ['PG509', 'PG509'], // a board code some tools report: kept, not rejected
  ])('%s → %s', (name, model) => {
    expect(normaliseModel(name)).toBe(model);
  });
});
