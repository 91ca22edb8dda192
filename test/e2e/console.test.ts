// The web console in a real browser: the local stack with three agents in three places, the console
// built from source, headless Chromium signing in with API keys. A provider sees the three nodes on the
// map (the screenshot in docs/ comes from here), a consumer submits a job, watches its status and
// output, and cancels it, and opens its services; an admin sees the whole pool. Every wait is for a condition, never a sleep.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium } from '../helpers/browser';
import { startPool, type Pool } from '../helpers/local-pool';

// CI installs Chromium (.ci/run), so there it must be found; a developer without it skips with a note
const haveBrowser = !!chromiumPath || !!process.env.CI;
if (!haveBrowser) console.warn('console browser test skipped: apt-get install -y chromium');

const ROOT = path.resolve(import.meta.dirname, '../..');
/** UPDATE_SCREENSHOTS=1 refreshes the committed picture; otherwise it goes to a temp dir, so a test run leaves the tree clean */
const SCREENSHOT = process.env.UPDATE_SCREENSHOTS ? path.join(ROOT, 'docs/console-map.png') : undefined;

const PLACES = [
  { name: 'berlin-a100', gpus: '2xA100-80', region: 'eu-central', location: '52.52,13.40' },
  { name: 'virginia-h100', gpus: '1xH100-80', region: 'us-east', location: '38.95,-77.45' },
  { name: 'tokyo-l40s', gpus: '2xL40S-48', region: 'ap-northeast', location: '35.68,139.69' },
];

let pool: Pool;
let browser: Browser;
let dir: string;
let keys: { provider: string; consumer: string };
const problems: string[] = [];

beforeAll(async () => {
  if (!haveBrowser) return;
  dir = mkdtempSync(path.join(tmpdir(), 'gpupool-console-e2e-'));
  const consoleDir = path.join(dir, 'console');
  // the same command a person runs, into a temp dir so a checkout's dist/ is left alone
  execFileSync('npm', ['run', '--silent', 'build:console', '--', '--outDir', consoleDir], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  [pool, browser] = await Promise.all([startPool({ consoleDir }), launchChromium()]);
  const provider = await pool.newAccount('provider', 'ada');
  const consumer = await pool.newAccount('consumer', 'grace');
  await pool.admin.post(`/v1/accounts/${consumer.id}/credits`, { amount: 100_000_000, memo: 'console test' });
  keys = { provider: provider.key, consumer: consumer.key };
  await Promise.all(PLACES.map((p) => pool.addAgent({ ...p, providerKey: provider.key })));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await pool?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fresh browser context (its own sessionStorage) signed in with `key`; records page errors and off-origin requests. */
async function signIn(key: string): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const origin = new URL(pool.stack.apiUrl).origin;
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
  page.on('request', (r) => !r.url().startsWith(origin) && !r.url().startsWith('data:') && problems.push(`off-origin request: ${r.url()}`));
  await page.goto(`${pool.stack.apiUrl}/console`);
  await page.fill('#api-key', key);
  await page.click('form[data-test=login] button');
  await page.waitForSelector('[data-test=who]');
  return { page, context };
}

const markers = (page: Page) => page.locator('path.node-marker');
// page.evaluate takes expressions as strings: this file is type-checked without DOM types.
// waitForFunction is not used: when its predicate is not true at once it polls with eval inside the page,
// which the console's CSP (script-src 'self') rightly refuses; poll page.evaluate from here instead.
async function waitForExpr(page: Page, expr: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 25; ; delay = Math.min(250, delay * 2)) {
    if (await page.evaluate(`Boolean(${expr})`)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expr}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
/** all three nodes drawn and the country outlines loaded (hundreds of paths) */
async function mapReady(page: Page) {
  await waitForExpr(page, `document.querySelectorAll('path.node-marker').length === 3 && document.querySelectorAll('.leaflet-overlay-pane path').length > 100`);
}

describe.skipIf(!haveBrowser)('web console in Chromium', () => {
  it('refuses an unknown key and keeps the accepted one only in the tab', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${pool.stack.apiUrl}/console/`);
    await page.fill('#api-key', 'gp_nobody_0000000000000000000000');
    await page.click('form[data-test=login] button');
    await waitForExpr(page, `document.querySelector('form[data-test=login] .error')?.textContent?.includes('not known')`);
    await page.fill('#api-key', keys.consumer);
    await page.click('form[data-test=login] button');
    await page.waitForSelector('[data-test=who]');
    expect(await page.evaluate('[sessionStorage.length, localStorage.length, document.cookie]')).toEqual([1, 0, '']);
    await page.click('[data-test=sign-out]');
    await page.waitForSelector('form[data-test=login]');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await context.close();
  });

  it('shows a provider its three nodes on the world map', async () => {
    const { page, context } = await signIn(keys.provider);
    await mapReady(page);
    expect(await markers(page).count()).toBe(3);
    const labels = await page.locator('.node-label').allTextContents();
    expect(labels.sort()).toEqual(PLACES.map((p) => `${p.name} · ONLINE`).sort());
    expect(await page.locator('[data-test=nodes] tbody tr').count()).toBe(3);
    expect(await page.textContent('[data-test=nodes-summary]')).toContain('3 nodes, 3 online');
    const file = SCREENSHOT ?? path.join(dir, 'console-map.png');
    await page.screenshot({ path: file });
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(file).size).toBeGreaterThan(20_000);

    // a node's page: its facts and the two score charts
    await page.click(`[data-test=nodes] tr:has-text("${PLACES[0].name}") a`);
    await page.waitForSelector('[data-test=node-facts] [data-fact=Reputation] meter');
    expect(await page.textContent('[data-test=node-facts] [data-fact=Location]')).toBe('52.52, 13.4');
    expect(await page.locator('.uplot').count()).toBe(2);
    await context.close();
  });

  it('lets a consumer submit a job, watch its status and output, and cancel it', async () => {
    const { page, context } = await signIn(keys.consumer);
    await page.click('a[href="#/submit"]');
    await page.fill('[data-test=submit] input[name=name]', 'console-e2e');
    await page.fill('[data-test=submit] input[name=command]', 'echo hello from the console; sleep 60');
    await page.click('[data-test=submit] button[type=submit]');
    // the job's page: RUNNING on one of the nodes, its first line of output streamed in
    await page.waitForSelector('[data-test=job-facts] [data-status=RUNNING]', { timeout: 20_000 });
    await waitForExpr(page, `document.querySelector('[data-test=logs]')?.textContent?.includes('hello from the console')`, 20_000);
    const node = await page.textContent('[data-test=job-facts] [data-fact=Node]');
    expect(node).toMatch(/\S+/);
    page.once('dialog', (d) => void d.accept());
    await page.click('[data-test=cancel]');
    await page.waitForSelector('[data-test=job-facts] [data-status=CANCELLED]', { timeout: 20_000 });
    expect(await page.isHidden('[data-test=cancel]')).toBe(true);
    // the list shows it too, with its final status
    await page.click('a[href="#/jobs"]');
    await page.waitForSelector('[data-test=jobs] tr:has-text("console-e2e") [data-status=CANCELLED]');
    await context.close();
  });

  it("lists a consumer's service (a list's items carry no replicas) and shows it with its replicas", async () => {
    // the console's types are the response schemas' (lib/console/src/types.ts): they say GET /v1/services
    // leaves each service's replicas out, which the list page once read unguarded and threw on
    const created = await fetch(`${pool.stack.apiUrl}/v1/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': keys.consumer },
      body: JSON.stringify({ name: 'console-svc', command: ['sleep', '600'], port: 8080, replicas: { min: 1, max: 1 }, resources: { gpus: 1 }, readiness: { path: '/health' } }),
    });
    expect(created.status).toBe(201);
    const { service } = (await created.json()) as { service: { id: string } };
    const { page, context } = await signIn(keys.consumer);
    await page.click('a[href="#/services"]');
    const row = `[data-test=services] tr[data-service="${service.id}"]`;
    await page.waitForSelector(row);
    expect(await page.textContent(`${row} [data-test=ready]`)).toBe('–/1');
    await page.click(`${row} a`);
    await page.waitForSelector('[data-test=replicas] tbody tr[data-replica]', { timeout: 20_000 });
    expect(await page.textContent('[data-test=service-facts] [data-fact=Ready]')).toMatch(/^[01]\/1$/);
    expect(await page.textContent('[data-test=service-facts] [data-fact=URL]')).toBe(`${pool.stack.apiUrl}/s/${service.id}`);
    await context.close();
  });

  it('shows an admin the whole pool', async () => {
    const { page, context } = await signIn(pool.adminKey);
    await mapReady(page);
    expect(await page.textContent('h2')).toBe('The pool');
    expect(await page.locator('[data-test=nodes] tbody tr').count()).toBe(3);
    await context.close();
  });

  it('loaded nothing from another origin and logged no error', () => {
    expect(problems).toEqual([]);
  });
});
