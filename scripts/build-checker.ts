// Builds what a checker host installs, so it needs Node.js 20+ and nothing else (no npm install):
//   dist/gpupool-checker.mjs   the checker client and everything it imports in one minified ESM file
// Install beside checker-client/gpupool-checker.service (docs/checkers.md, Running a checker).
// Usage: tsx scripts/build-checker.ts [--outfile PATH]
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleForNode, REPO_ROOT } from './build-agent';

export const CHECKER_BUNDLE = 'dist/gpupool-checker.mjs';

export const buildChecker = (root = REPO_ROOT, outfile = join(root, CHECKER_BUNDLE)) => bundleForNode(root, 'bin/gpupool-checker.ts', outfile);

async function main(): Promise<void> {
  const at = process.argv.indexOf('--outfile');
  const { outfile, bytes } = await buildChecker(REPO_ROOT, at > 0 ? process.argv[at + 1] : undefined);
  console.log(`built ${outfile}: ${(bytes / 1024).toFixed(0)} KiB; run it with: node ${outfile}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
