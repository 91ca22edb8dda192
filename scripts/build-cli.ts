// Builds what people install to use gpupool from their own machine, so it needs Node.js 20+ and nothing else:
//   dist/gpupool.mjs     the `gpupool` CLI and everything it imports in one minified ESM file (served by the
//                        API at GET /cli/gpupool.mjs; the `gpupool` bin of the packed package)
//   dist/client.mjs      the typed API client (client/index.ts) for applications: `import … from 'gpupool'`
//   dist/types/          its type declarations (tsc, client/tsconfig.json)
// With --pack also dist/gpupool-agent.mjs (the `gpupool-agent` bin): what `npm pack` runs first (prepack).
// Usage: tsx scripts/build-cli.ts [--pack] | [--outfile PATH] (only the CLI bundle, to PATH: the CDK stack)
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildAgent, bundleForNode, REPO_ROOT } from './build-agent';

export const CLI_BUNDLE = 'dist/gpupool.mjs';
export const CLIENT_BUNDLE = 'dist/client.mjs';
export const CLIENT_TYPES = 'dist/types';

export const buildCli = (root = REPO_ROOT, outfile = join(root, CLI_BUNDLE)) => bundleForNode(root, 'bin/gpupool.ts', outfile);

/** The client for applications: readable ESM with no dependencies (it imports only types from the API). */
export async function buildClient(root = REPO_ROOT): Promise<{ outfile: string; bytes: number; types: string }> {
  const { build } = await import('esbuild');
  const outfile = join(root, CLIENT_BUNDLE);
  await build({
    absWorkingDir: root,
    entryPoints: [join(root, 'client/index.ts')],
    outfile,
    bundle: true,
    platform: 'neutral',
    target: 'es2022',
    format: 'esm',
    logLevel: 'warning',
  });
  const types = join(root, CLIENT_TYPES);
  rmSync(types, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'client/tsconfig.json')], { cwd: root, stdio: 'inherit' });
  for (const file of declarationFiles(types)) writeFileSync(file, withJsSpecifiers(file, readFileSync(file, 'utf8')));
  return { outfile, bytes: statSync(outfile).size, types };
}

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * The sources import without extensions (moduleResolution Bundler); an application that resolves like Node
 * (nodenext) needs `./x.js` for `./x.d.ts`, or its imports of the client would quietly become `any`.
 */
export function withJsSpecifiers(file: string, text: string): string {
  return text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\2/g, (all, lead: string, q: string, spec: string) => {
    if (/\.(m?js|json)$/.test(spec)) return all;
    const abs = resolve(dirname(file), spec);
    const to = existsSync(`${abs}.d.ts`) ? `${spec}.js` : existsSync(join(abs, 'index.d.ts')) ? `${spec}/index.js` : undefined;
    if (!to) throw new Error(`${file}: cannot find the declarations of ${spec}`);
    return `${lead}${q}${to}${q}`;
  });
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--outfile');
  if (at > 0) {
    const { outfile, bytes } = await buildCli(REPO_ROOT, process.argv[at + 1]);
    console.log(`built ${outfile}: ${(bytes / 1024).toFixed(0)} KiB`);
    return;
  }
  const cli = await buildCli();
  console.log(`built ${cli.outfile}: ${(cli.bytes / 1024).toFixed(0)} KiB; run it with: node ${CLI_BUNDLE} --help`);
  const client = await buildClient();
  console.log(`built ${client.outfile}: ${(client.bytes / 1024).toFixed(0)} KiB, and its types in ${client.types}`);
  if (process.argv.includes('--pack')) {
    const agent = await buildAgent();
    console.log(`built ${agent.outfile}: ${(agent.bytes / 1024).toFixed(0)} KiB`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
