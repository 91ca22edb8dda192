// Synth loads no runtime module to read a constant (issue 18): what bin/app.ts imports at run time, module
// by module, reaches no AWS SDK client, no Powertools and no store adapter. Such an import makes `cdk synth`
// slower, couples the deploy to runtime code, and drags a client into a constant's file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** Imports that load at run time: `import type` and `export type` are left out (erased by the compiler). */
function runtimeImports(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const s of src.statements) {
    if (ts.isImportDeclaration(s)) {
      const c = s.importClause;
      const typeOnly = c?.isTypeOnly || (c && !c.name && c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push((s.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(s) && s.moduleSpecifier && !s.isTypeOnly) {
      out.push((s.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return out;
}

/** Every file and package bin/app.ts loads, following relative imports. */
function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  for (let f = todo.pop(); f; f = todo.pop()) {
    const rel = relative(ROOT, f);
    if (files.has(rel)) continue;
    files.add(rel);
    for (const spec of runtimeImports(f)) {
      if (!spec.startsWith('.')) {
        packages.add(spec);
        continue;
      }
      const base = resolve(dirname(f), spec).replace(/\.(m?js)$/, '');
      const hit = [`${base}.ts`, join(base, 'index.ts')].find((c) => existsSync(c));
      if (hit) todo.push(hit);
    }
  }
  return { files, packages };
}

describe('what cdk synth loads', () => {
  const { files, packages } = reachable('bin/app.ts');

  it('follows the app into the stacks (the walk itself works)', () => {
    expect(files).toContain('lib/stacks/control-plane-stack.ts');
    expect(files).toContain('functions/scheduled/schedules.ts');
    expect(packages).toContain('aws-cdk-lib');
  });

  it('reaches no AWS SDK client, no Powertools, no store adapter, no composition root', () => {
    expect([...packages].filter((p) => p.startsWith('@aws-sdk/') || p.startsWith('@aws-lambda-powertools/'))).toEqual([]);
    // tables.ts is the table definitions (names, keys, shards): constants the stack creates tables from
    expect([...files].filter((f) => (f.startsWith('functions/store/') && f !== 'functions/store/tables.ts') || f.startsWith('functions/wiring/'))).toEqual([]);
  });
});
