// The output digest replicated verification compares, and the `results` liar that must break it.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OutputDigest } from '../../agent/output-digest';
import { alterLine } from '../../agent/probe/dishonest';

const digestOf = (lines: [('stdout' | 'stderr' | 'system'), string][]) => {
  const d = new OutputDigest();
  for (const [s, t] of lines) d.push(s, t);
  return d.value();
};

describe('OutputDigest', () => {
  it('is SHA-256 over the stdout lines, each ended by a newline', () => {
    expect(digestOf([['stdout', 'a'], ['stdout', 'b']])).toBe(`sha256:${createHash('sha256').update('a\nb\n').digest('hex')}`);
    expect(digestOf([])).toBe(`sha256:${createHash('sha256').update('').digest('hex')}`);
  });

  it('ignores stderr and the agent’s own lines (warnings and timings differ between honest runs)', () => {
    expect(digestOf([['stderr', 'took 3.2 s'], ['stdout', '42'], ['system', 'gpupool: stopping']])).toBe(digestOf([['stdout', '42'], ['stderr', 'took 2.9 s']]));
  });

  it('tells order and line breaks apart', () => {
    expect(digestOf([['stdout', 'a'], ['stdout', 'b']])).not.toBe(digestOf([['stdout', 'b'], ['stdout', 'a']]));
    expect(digestOf([['stdout', 'ab']])).not.toBe(digestOf([['stdout', 'a'], ['stdout', 'b']]));
  });
});

describe('the dishonest switch', () => {
  it.each([
    ['results', '6x7=42', '6x7=42 (made up)'],
    ['canary', '42', '43'],
    ['canary', 'not a number', 'not a number'],
    [undefined, '42', '42'],
  ] as const)('%s alters %j into %j', (mode, line, out) => {
    expect(alterLine(line, mode)).toBe(out);
  });
});
