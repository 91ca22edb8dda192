// The console's types are the API's response schemas (lib/console/src/types.ts imports them from
// functions/http/responses as types only). A value import there (or anywhere in the console) would pull zod
// and server modules into a browser bundle: the console, bundled with esbuild as Vite would, must hold no
// module from functions/ or zod and no zod code.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { consoleAssets } from '../helpers/console-assets';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** lib/console/src/main.ts bundled for the browser, its assets stubbed as Vite serves them */
async function bundleConsole(extra = '') {
  const { build } = await import('esbuild');
  return build({
    stdin: { contents: `import ${JSON.stringify(path.join(ROOT, 'lib/console/src/main.ts'))};\n${extra}`, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    write: false,
    metafile: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    logLevel: 'silent',
    plugins: [consoleAssets()],
  });
}

const serverOrZod = (inputs: string[]) => inputs.filter((p) => /^functions\/|node_modules\/zod\//.test(p));

describe('the console bundle', () => {
  it('holds no module from functions/ and no zod: the response schemas come in as types only', async () => {
    const out = await bundleConsole();
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs).toContain('lib/console/src/main.ts');
    expect(inputs).toContain('lib/console/src/views/services.ts');
    expect(serverOrZod(inputs)).toEqual([]);
    expect(out.outputFiles[0].text).not.toMatch(/zod|ZodError/i);
  });

  it('would show one: a value import of a response schema brings zod in (the check above can fail)', async () => {
    const out = await bundleConsole(`import { JobSchema } from ${JSON.stringify(path.join(ROOT, 'functions/http/responses/job.ts'))};\nconsole.log(JobSchema);`);
    expect(serverOrZod(Object.keys(out.metafile.inputs))).toEqual(expect.arrayContaining(['functions/http/responses/job.ts', expect.stringMatching(/node_modules\/zod\//)]));
  });
});
