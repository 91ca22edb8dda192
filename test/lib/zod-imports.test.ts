// `import { z } from 'zod'` takes the whole namespace object, every locale included (≈ 450 KB minified in
// each Lambda bundle); `import * as z from 'zod'` lets esbuild keep only what is used (≈ 85 KB). With the
// first form every function's bundle passed the 1 MB budget once S3 and KMS came in.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) sources(p, out);
    else if (/\.tsx?$/.test(name)) out.push(p);
  }
  return out;
}

describe('zod imports', () => {
  it('take zod as a namespace (tree-shaken), never the `z` object', () => {
    const files = ['functions', 'agent', 'lib', 'bin', 'client'].flatMap((d) => sources(join(ROOT, d)));
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.filter((f) => /^import \{[^}]*\bz\b[^}]*\} from 'zod'/m.test(readFileSync(f, 'utf8'))).map((f) => f.slice(ROOT.length + 1));
    expect(offenders).toEqual([]);
  });
});
