import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { splitLines } from '../../agent/runtime/lines';

async function split(chunks: Array<string | Buffer>, max = 8): Promise<string[]> {
  const stream = new PassThrough();
  const out: string[] = [];
  const done = splitLines(stream, (l) => out.push(l), max);
  for (const c of chunks) stream.write(c);
  stream.end();
  await done;
  return out;
}

describe('splitLines', () => {
  it.each([
    ['lines split across chunks', ['ab', 'c\nde', 'f\n'], ['abc', 'def']],
    ['a long line whose newline arrives in the same chunk', ['0123456789abcdefXYZ\n'], ['01234567', '89abcdef', 'XYZ']],
    ['a long line without a newline yet', ['0123456789', 'ab'], ['01234567', '89ab']],
    ['CRLF endings and empty lines', ['a\r\n\r\nb'], ['a', '', 'b']],
  ])('%s', async (_what, chunks, lines) => {
    expect(await split(chunks)).toEqual(lines);
  });

  it('keeps a multi-byte character whole across a chunk boundary', async () => {
    const bytes = Buffer.from('héllo\n');
    expect(await split([bytes.subarray(0, 2), bytes.subarray(2)])).toEqual(['héllo']);
  });
});
