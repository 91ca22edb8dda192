import { describe, expect, it } from 'vitest';
import {
  colors,
  details,
  formatAge,
  formatCost,
  formatCredits,
  formatDuration,
  formatTime,
  parseCredits,
  stripAnsi,
  table,
  useColor,
} from '../../bin/cli/format';

describe('money', () => {
  it('shows micro-credits as credits with 2 decimals and thousands separators', () => {
    expect(formatCredits(1_800_000)).toBe('1.80');
    expect(formatCredits(0)).toBe('0.00');
    expect(formatCredits(2_500_000_000)).toBe('2,500.00');
    expect(formatCredits(1_234_567_890_000)).toBe('1,234,567.89');
    expect(formatCredits(4_999)).toBe('0.00');
    expect(formatCredits(5_000)).toBe('0.01');
    expect(formatCredits(-1_250_000)).toBe('-1.25');
    expect(formatCredits(-1)).toBe('0.00');
    expect(formatCredits(1, 6)).toBe('0.000001');
    expect(formatCredits(undefined)).toBe('-');
    expect(formatCredits(null)).toBe('-');
  });

  it('shows tiny non-zero costs as <0.01', () => {
    expect(formatCost(1)).toBe('<0.01');
    expect(formatCost(4_999)).toBe('<0.01');
    expect(formatCost(0)).toBe('0.00');
    expect(formatCost(12_340_000)).toBe('12.34');
  });

  it('parses credits typed by people into micro-credits', () => {
    expect(parseCredits('2.5')).toBe(2_500_000);
    expect(parseCredits('100')).toBe(100_000_000);
    expect(parseCredits('1,000.25')).toBe(1_000_250_000);
    expect(parseCredits('.5')).toBe(500_000);
    expect(parseCredits('0.000001')).toBe(1);
    expect(parseCredits('2.')).toBe(2_000_000);
    for (const bad of ['', 'abc', '-1', '1.0000001', '1e3', '1.2.3']) expect(parseCredits(bad), bad).toBeUndefined();
  });
});

describe('durations and times', () => {
  it('is compact at every scale', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(4_250)).toBe('4.2s');
    expect(formatDuration(59_999)).toBe('59s');
    expect(formatDuration(184_000)).toBe('3m04s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
    expect(formatDuration(2 * 86_400_000 + 3 * 3_600_000)).toBe('2d03h');
    expect(formatDuration(-5)).toBe('0ms');
    expect(formatDuration(undefined)).toBe('-');
  });

  it('says how long ago, and prints UTC times without milliseconds', () => {
    expect(formatAge(1_000, 13_000)).toBe('12s ago');
    expect(formatAge(null, 13_000)).toBe('-');
    expect(formatTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).toBe('2025-01-02T03:04:05Z');
    expect(formatTime(undefined)).toBe('-');
  });
});

describe('tables', () => {
  it('aligns columns, right-aligns numbers, fills blanks with "-", and leaves no trailing spaces', () => {
    const t = table(['ID', 'NAME', 'PRICE>'], [
      ['a', 'alpha', '1.80'],
      ['bbbb', undefined, '12.00'],
    ]);
    expect(t).toBe(['ID    NAME   PRICE', 'a     alpha   1.80', 'bbbb  -      12.00', ''].join('\n'));
  });

  it('ignores colour codes when measuring, and colours only the header when enabled', () => {
    const c = colors(true);
    const t = table(['S', 'N>'], [[c.green('OK'), 1], ['FAILED', 22]], c);
    const lines = stripAnsi(t).split('\n');
    expect(lines).toEqual(['S        N', 'OK       1', 'FAILED  22', '']);
    expect(t.startsWith('\x1b[1m')).toBe(true);
  });

  it('prints aligned key: value details and skips undefined ones', () => {
    expect(details([['id', 'x'], ['name', undefined], ['status', 'RUNNING'], ['exit', null]])).toBe('id:     x\nstatus: RUNNING\nexit:   -\n');
  });
});

describe('colour', () => {
  it('only on a TTY and never with NO_COLOR', () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColor({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colors(false).red('x')).toBe('x');
    expect(colors(true).red('x')).toBe('\x1b[31mx\x1b[39m');
  });
});
