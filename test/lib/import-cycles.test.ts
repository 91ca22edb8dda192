// No two modules import each other, directly or around a loop (issue 18): a cycle makes load order matter,
// hides which module owns a concept, and breaks bundling in subtle ways. Type-only imports count too, as
// madge counts them: a shared type belongs in its own file.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { importCycles } from '../helpers/import-graph';

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCES = ['functions', 'agent', 'checker-client', 'lib', 'bin', 'client', 'scripts'];

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of each file (static, dynamic and `import('…')` types), resolved to files. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of SOURCES.flatMap((s) => sourceFiles(join(ROOT, s)))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps: string[] = [];
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const base = resolve(dirname(file), fileName).replace(/\.(m?js)$/, '');
      const hit = [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')].find((c) => existsSync(c));
      if (hit) deps.push(relative(ROOT, hit));
    }
    graph.set(relative(ROOT, file), deps);
  }
  return graph;
}

describe('imports', () => {
  it('finds a cycle when there is one (the check can fail)', () => {
    const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
    expect(importCycles(g).map((c) => c.sort())).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('has no circular imports among the sources', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(100);
    expect(importCycles(graph)).toEqual([]);
  });
});
