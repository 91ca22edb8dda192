// Formatting for people: money (micro-credits → credits), durations, ages, aligned tables and colour.
// Pure functions; colour is decided once per stream by `useColor`.

/** 1 credit = 1,000,000 micro-credits (functions/domain/model.ts MICRO; not imported to keep the CLI light). */
export const MICRO = 1_000_000;

/** Micro-credits as credits with `decimals` places and thousands separators: 1_800_000 → "1.80". */
export function formatCredits(micro: number | null | undefined, decimals = 2): string {
  if (micro === null || micro === undefined || !Number.isFinite(micro)) return '-';
  const neg = micro < 0;
  const scale = 10 ** (6 - decimals);
  // integer arithmetic: round half away from zero to the shown precision
  const units = Math.round(Math.abs(micro) / scale);
  const whole = Math.floor(units / 10 ** decimals);
  const frac = units % 10 ** decimals;
  const wholeStr = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const s = decimals > 0 ? `${wholeStr}.${frac.toString().padStart(decimals, '0')}` : wholeStr;
  return neg && units !== 0 ? `-${s}` : s;
}

/** Like formatCredits, but a small non-zero amount shows as "<0.01" instead of "0.00". */
export function formatCost(micro: number | null | undefined): string {
  if (typeof micro === 'number' && micro > 0 && micro < 5_000) return '<0.01';
  return formatCredits(micro);
}

/**
 * Parses an amount of credits typed by a person ("2.5", "1,000", "0.000001") into integer micro-credits.
 * Returns undefined when it is not a non-negative number with at most 6 decimals.
 */
export function parseCredits(text: string): number | undefined {
  const t = text.trim().replace(/[,_]/g, '');
  const m = /^(\d+)(?:\.(\d{0,6}))?$/.exec(t) ?? /^()\.(\d{1,6})$/.exec(t);
  if (!m) return undefined;
  const whole = m[1] ? Number(m[1]) : 0;
  const frac = Number((m[2] ?? '').padEnd(6, '0') || '0');
  const v = whole * MICRO + frac;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** A duration in milliseconds, compact: 850ms, 4.2s, 59s, 3m04s, 1h02m, 2d03h. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  const d = Math.floor(h / 24);
  return `${d}d${String(h % 24).padStart(2, '0')}h`;
}

/** How long ago an epoch-ms time was: "12s ago", "3m04s ago"; "-" when unknown. */
export function formatAge(then: number | null | undefined, now: number): string {
  if (then === null || then === undefined) return '-';
  return `${formatDuration(Math.max(0, now - then))} ago`;
}

/** An epoch-ms time as an ISO-8601 UTC string without milliseconds; "-" when unknown. */
export function formatTime(t: number | null | undefined): string {
  if (t === null || t === undefined || !Number.isFinite(t)) return '-';
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A reputation in [0,1] with 2 decimals. */
export function formatScore(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(2) : '-';
}

// ---------------------------------------------------------------- colour

export interface Colors {
  enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const wrap = (on: boolean, open: number, close: number) => (s: string) => (on && s ? `\x1b[${open}m${s}\x1b[${close}m` : s);

export function colors(enabled: boolean): Colors {
  return {
    enabled,
    bold: wrap(enabled, 1, 22),
    dim: wrap(enabled, 2, 22),
    red: wrap(enabled, 31, 39),
    green: wrap(enabled, 32, 39),
    yellow: wrap(enabled, 33, 39),
    cyan: wrap(enabled, 36, 39),
  };
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything non-empty (https://no-color.org). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
export const stripAnsi = (s: string) => s.replace(ANSI, '');
/** Display width: ANSI codes take no room (wide characters are rare in our cells and counted as 1). */
export const visibleWidth = (s: string) => [...stripAnsi(s)].length;

const STATUS_COLOR: Record<string, keyof Omit<Colors, 'enabled'>> = {
  SUCCEEDED: 'green',
  ONLINE: 'green',
  RUNNING: 'cyan',
  ASSIGNED: 'cyan',
  QUEUED: 'yellow',
  DEGRADED: 'yellow',
  DRAINING: 'yellow',
  FAILED: 'red',
  TIMED_OUT: 'red',
  LOST: 'red',
  QUARANTINED: 'red',
  OFFLINE: 'red',
  CANCELLED: 'dim',
  DEREGISTERED: 'dim',
};

/** A job, attempt or node status, coloured by what it means. */
export function formatStatus(status: string | null | undefined, c: Colors): string {
  if (!status) return '-';
  const k = STATUS_COLOR[status];
  return k ? c[k](status) : status;
}

// ---------------------------------------------------------------- tables

export interface Column {
  header: string;
  /** right-align (numbers, money, durations) */
  right?: boolean;
}

/**
 * Aligned columns separated by two spaces, header first; no trailing spaces. `columns` may be plain
 * headers; a header ending in ">" is right-aligned ("PRICE>").
 */
export function table(columns: (string | Column)[], rows: (string | number | null | undefined)[][], c: Colors = colors(false)): string {
  const cols: Column[] = columns.map((x) => (typeof x === 'string' ? (x.endsWith('>') ? { header: x.slice(0, -1), right: true } : { header: x }) : x));
  const cells = rows.map((r) => cols.map((_, i) => (r[i] === null || r[i] === undefined || r[i] === '' ? '-' : String(r[i]))));
  const widths = cols.map((col, i) => Math.max(visibleWidth(col.header), ...cells.map((r) => visibleWidth(r[i]))));
  const pad = (s: string, i: number) => {
    const gap = ' '.repeat(widths[i] - visibleWidth(s));
    return cols[i].right ? gap + s : s + gap;
  };
  const line = (r: string[]) => r.map(pad).join('  ').replace(/\s+$/, '');
  const header = line(cols.map((col) => col.header));
  return [c.enabled ? c.bold(header) : header, ...cells.map(line)].join('\n') + '\n';
}

/** "key: value" lines with the keys aligned; rows whose value is undefined are left out. */
export function details(pairs: [string, string | number | null | undefined][], c: Colors = colors(false)): string {
  const kept = pairs.filter(([, v]) => v !== undefined);
  const w = Math.max(0, ...kept.map(([k]) => k.length));
  return kept.map(([k, v]) => `${c.dim(`${k}:`.padEnd(w + 1))} ${v === null || v === '' ? '-' : v}`).join('\n') + '\n';
}

/** Shortens a long id or text for a table cell, keeping the start. */
export function truncate(s: string | null | undefined, max: number): string {
  if (!s) return '-';
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
