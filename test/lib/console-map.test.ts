// The console's world map in headless Chromium: lib/console/src/world-map.ts bundled on its own with esbuild
// (no stack needed) and shown nodes whose provider-set names are markup. A name must render as text in
// the marker's tooltip, never as HTML: `<img src=x onerror=…>` in a name must not become an element.
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { consoleAssets } from '../helpers/console-assets';

// CI installs Chromium (.ci/run), so there it must be found; a developer without it skips with a note
const haveBrowser = !!chromiumPath || !!process.env.CI;
if (!haveBrowser) console.warn('console map browser test skipped: apt-get install -y chromium');

const ROOT = path.resolve(import.meta.dirname, '../..');
let browser: Browser;
let bundle: string;

/** The map module and a tiny entry that shows the nodes the test puts in `window.NODES`. */
async function buildMap(): Promise<string> {
  const { build } = await import('esbuild');
  const entry = `
    import { worldMap } from ${JSON.stringify(path.join(ROOT, 'lib/console/src/world-map.ts'))};
    const map = worldMap(document.getElementById('map'), (id) => { window.SELECTED = id; });
    map.show(window.NODES);
    window.SHOWN = true;`;
  const out = await build({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    logLevel: 'silent',
    // an empty world: the outlines are a data URL of a topology with no countries
    plugins: [consoleAssets(`export default 'data:application/json,' + encodeURIComponent(JSON.stringify({ type: 'Topology', objects: { countries: { type: 'GeometryCollection', geometries: [] } }, arcs: [] }));`)],
  });
  return out.outputFiles[0].text;
}

beforeAll(async () => {
  if (!haveBrowser) return;
  [bundle, browser] = await Promise.all([buildMap(), launchChromium()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const node = (id: string, name: string, lat: number, lon: number) => ({
  id, providerId: 'p', name, status: 'ONLINE', region: 'eu', location: { lat, lon }, gpuModel: 'H100', vramGb: 80,
  totalGpus: 1, freeGpus: 1, pricePerGpuHour: 1, reputation: 1, createdAt: 0,
});

describe.skipIf(!haveBrowser)('console world map', () => {
  it('shows provider-set node names in tooltips as text, never as markup', async () => {
    const names = ['<img src=x onerror="window.PWNED=1">', '<b>bold</b> & <script>window.PWNED=2</script>', 'plain-node'];
    const page = await browser.newPage();
    try {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.setContent('<!doctype html><html><body><div id="map" style="width:800px;height:500px"></div></body></html>');
      await page.evaluate(`window.NODES = ${JSON.stringify(names.map((n, i) => node(`n${i}`, n, 10 * i, 20 * i)))}`);
      await page.addScriptTag({ content: bundle });
      expect(await page.evaluate('window.SHOWN === true')).toBe(true);
      const labels = await page.locator('.node-label').allTextContents();
      expect(labels.sort()).toEqual(names.map((n) => `${n} · ONLINE`).sort());
      // the markup stayed text: no element came out of a name
      expect(await page.evaluate(`document.querySelectorAll('.leaflet-tooltip img, .leaflet-tooltip b, .leaflet-tooltip script').length`)).toBe(0);
      expect(await page.evaluate('window.PWNED')).toBeUndefined();
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
