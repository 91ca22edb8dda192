// The console's files for the deployment: Vite builds lib/console at synth, as esbuild bundles the
// functions, so `cdk deploy` never ships a stale or missing dist/console. CDK caches the output by a
// hash of lib/console, so an unchanged console is not rebuilt.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DockerImage } from 'aws-cdk-lib';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { REPO_ROOT } from '../../scripts/build-agent';

const CONSOLE_DIR = fileURLToPath(new URL('../console', import.meta.url));

export function consoleBuild(): s3deploy.ISource {
  return s3deploy.Source.asset(CONSOLE_DIR, {
    bundling: {
      // never used: local bundling always answers (it throws rather than fall back to Docker)
      image: DockerImage.fromRegistry('scratch'),
      local: {
        tryBundle(outputDir: string): boolean {
          const run = spawnSync('npx', ['vite', 'build', '-c', 'lib/console/vite.config.ts', '--outDir', outputDir], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 180_000 });
          if (run.status !== 0) throw new Error(`building the web console failed (npm run build:console shows why):\n${run.stdout}${run.stderr}`);
          return true;
        },
      },
    },
  });
}
