// Builds the web console into dist/console. `base` is /console/ because both the local gateway and the
// CloudFront distribution serve it under that path, next to the API's /v1/* on the same origin.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/console/',
  // the console's public/ would be copied verbatim: it has none, and must not pick up the repo's
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // the world outlines are fetched as their own file; inlining them would bloat the script
    assetsInlineLimit: 4096,
    reportCompressedSize: true,
    sourcemap: false,
  },
  logLevel: 'warn',
});
