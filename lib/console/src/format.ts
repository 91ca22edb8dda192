// How numbers read in the console. Credits are stored as integer micro-credits (1 credit = 1,000,000).

export const MICRO = 1_000_000;

/** 1234567 → "1.2346"; trailing zeros dropped, at most 4 decimals. */
export function credits(micro: number | null | undefined): string {
  if (typeof micro !== 'number' || !Number.isFinite(micro)) return '–';
  return (micro / MICRO).toLocaleString('en-US', { maximumFractionDigits: 4 });
}

export function percent(share: number | null | undefined): string {
  return typeof share === 'number' ? `${(share * 100).toFixed(1)}%` : '–';
}

export function time(ms: number | null | undefined): string {
  if (!ms) return '–';
  const d = new Date(ms);
  return d.toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'medium' });
}

/** "3 s", "4 min 5 s", "2 h 3 min" */
export function duration(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function ago(ms: number | null | undefined, now = Date.now()): string {
  return ms ? `${duration(now - ms)} ago` : '–';
}

export function ms(v: number | null | undefined): string {
  return typeof v === 'number' ? `${v.toFixed(v < 10 ? 1 : 0)} ms` : '–';
}
