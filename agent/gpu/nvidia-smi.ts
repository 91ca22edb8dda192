// Pure parsers for nvidia-smi output. The agent asks for `--format=csv` WITH the header and units: columns
// are then matched by name, not position, so the parser reads any real capture (older drivers without
// compute_cap, the exporter's all-fields dumps) and a reordered query cannot silently swap fields.
import type { GpuDevice } from '../../functions/domain/model';

export const QUERY_FIELDS = ['index', 'uuid', 'name', 'memory.total', 'driver_version', 'compute_cap'] as const;

export type CsvRow = Record<string, string>;

/**
 * Splits `--format=csv` output into rows keyed by field name; units (`[MiB]`, `MiB`) are stripped. The header
 * must name `required` (the discovery query's `name`, the telemetry query's `index`).
 */
export function parseQueryCsv(text: string, required = 'name'): CsvRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = splitCsvLine(lines[0]).map((h) => h.replace(/\s*\[[^\]]*\]$/, ''));
  if (!header.includes(required)) throw new Error(`nvidia-smi output has no CSV header with "${required}": ${lines[0].slice(0, 80)}`);
  return lines.slice(1).map((line) => {
    const cells = splitCsvLine(line);
    return Object.fromEntries(header.map((h, i) => [h, stripUnit(cells[i] ?? '')]));
  });
}

// nvidia-smi never quotes: names contain no commas. A plain split is exact for its output.
function splitCsvLine(line: string): string[] {
  return line.split(',').map((c) => c.trim());
}

function stripUnit(value: string): string {
  return value.replace(/\s+(MiB|W|MHz|%|us)$/, '');
}

export interface ListedGpu {
  index: number;
  name: string;
  uuid: string;
  /** MIG instances listed under this GPU; >0 means MIG mode is on */
  migDevices: number;
}

/** Parses `nvidia-smi -L`: `GPU 0: NVIDIA A10G (UUID: GPU-…)` with indented `MIG …` children. */
export function parseGpuList(text: string): ListedGpu[] {
  const gpus: ListedGpu[] = [];
  for (const line of text.split(/\r?\n/)) {
    const gpu = /^GPU (\d+): (.+) \(UUID: ([^)]+)\)\s*$/.exec(line);
    if (gpu) gpus.push({ index: Number(gpu[1]), name: gpu[2].trim(), uuid: gpu[3], migDevices: 0 });
    else if (/^\s+MIG /.test(line) && gpus.length > 0) gpus[gpus.length - 1].migDevices++;
  }
  return gpus;
}

/**
 * Short model names the matcher and consumers use (`gpuModels: ["H100"]`). Order matters: the first
 * pattern that matches wins, so more specific names stand first. Unknown boards keep a cleaned-up name
 * instead of failing (some tools report board codes such as PG509).
 */
const MODELS: ReadonlyArray<[RegExp, string]> = [
  [/\bH100\b/, 'H100'],
  [/\bH200\b/, 'H200'],
  [/\bGH200\b/, 'GH200'],
  [/\bA100\b/, 'A100'],
  [/\bA10G\b/, 'A10G'],
  [/\bA10\b/, 'A10'],
  [/\bL40S\b/, 'L40S'],
  [/\bL40\b/, 'L40'],
  [/\bL4\b/, 'L4'],
  [/\bT4\b/, 'T4'],
  [/\bV100\b/, 'V100'],
  [/\bRTX\s*(\d{4})\s*(Ti)?\b/i, 'RTX$1$2'],
];

export function normaliseModel(name: string): string {
  for (const [re, model] of MODELS) {
    const m = re.exec(name);
    if (m) return model.replace('$1', m[1] ?? '').replace('$2', m[2] ?? '');
  }
  return name.replace(/^(NVIDIA|Tesla|GeForce)\s+/gi, '').replace(/[^A-Za-z0-9]+/g, '').slice(0, 64) || 'UNKNOWN';
}

export function mibToGb(mib: number): number {
  return Math.max(1, Math.round(mib / 1024));
}

export interface Inventory {
  devices: GpuDevice[];
  driverVersion?: string;
  warnings: string[];
}

/**
 * Joins the query rows with the `-L` listing. Modern drivers answer every field of the query; the listing
 * fills what an older driver or a partial capture lacks (uuid, index) and reveals MIG mode.
 */
export function buildInventory(rows: CsvRow[], listed: ListedGpu[] = []): Inventory {
  const warnings: string[] = [];
  const devices = rows.map((row, position): GpuDevice => {
    const index = row.index !== undefined && /^\d+$/.test(row.index) ? Number(row.index) : position;
    const fromList = listed.find((g) => g.index === index);
    const uuid = validValue(row.uuid) ?? fromList?.uuid;
    if (!uuid) throw new Error(`GPU ${index}: nvidia-smi reported no uuid`);
    const mib = Number(row['memory.total']);
    if (!Number.isFinite(mib) || mib <= 0) throw new Error(`GPU ${index}: unreadable memory.total "${row['memory.total']}"`);
    const name = row.name;
    const computeCap = validValue(row.compute_cap);
    return { index, uuid, model: normaliseModel(name), vramGb: mibToGb(mib), name, ...(computeCap ? { computeCap } : {}) };
  });
  for (const g of listed.filter((l) => l.migDevices > 0)) {
    warnings.push(`GPU ${g.index} is in MIG mode (${g.migDevices} instances); the agent offers whole GPUs only`);
  }
  const models = [...new Set(devices.map((d) => d.model))];
  if (models.length > 1) {
    warnings.push(`mixed GPU models ${models.join(', ')}: offering only the ${models[0]} devices`);
  }
  return {
    devices: devices.filter((d) => d.model === models[0]),
    driverVersion: validValue(rows[0]?.driver_version),
    warnings,
  };
}

/** nvidia-smi prints `[N/A]`, `N/A` or `[Not Supported]` for fields a board lacks. */
function validValue(v: string | undefined): string | undefined {
  if (v === undefined || v === '' || /^\[?(N\/A|Not Supported)\]?$/i.test(v) || v.startsWith('[')) return undefined;
  return v;
}
