// The spot interruption watcher against a fake IMDSv2 on a free port: tokens, 404 = no notice, the notice
// handed over once, expired tokens renewed, an unreachable IMDS logged once and polled on.
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../agent/log';
import { parseNotice, SpotWatcher, type SpotNotice } from '../../agent/spot-watch';
import { FakeImds } from './helpers/fake-imds';

let imds: FakeImds | undefined;
let watcher: SpotWatcher | undefined;
afterEach(async () => {
  await watcher?.stop();
  await imds?.close();
  watcher = imds = undefined;
});

function logs() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l)), say: () => undefined }) };
}

describe('SpotWatcher', () => {
  it('asks with an IMDSv2 token: no notice is 404; a notice is parsed; one token serves many polls', async () => {
    imds = await new FakeImds().start();
    const w = new SpotWatcher({ endpoint: imds.url, log: logs().log, onNotice: () => undefined });
    expect(await w.check()).toBeUndefined();
    expect(await w.check()).toBeUndefined();
    imds.notice = { action: 'terminate', time: '2026-01-02T03:06:05Z' };
    expect(await w.check()).toEqual({ action: 'terminate', time: '2026-01-02T03:06:05Z' });
    expect(imds.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'PUT /latest/api/token',
      'GET /latest/meta-data/spot/instance-action',
      'GET /latest/meta-data/spot/instance-action',
      'GET /latest/meta-data/spot/instance-action',
    ]);
    expect(imds.requests[0].ttl).toBe('21600');
    expect(imds.requests.slice(1).every((r) => r.token === 'token-1')).toBe(true);
  });

  it('gets a fresh token when the old one is refused', async () => {
    imds = await new FakeImds().start();
    const w = new SpotWatcher({ endpoint: `${imds.url}/`, log: logs().log, onNotice: () => undefined });
    await w.check();
    imds.expireTokens();
    expect(await w.check()).toBeUndefined();
    expect(imds.requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
    expect(imds.requests.at(-1)?.token).toBe('token-2');
  });

  it('polls until the notice, hands it over once, and stops polling', async () => {
    imds = await new FakeImds().start();
    const notices: SpotNotice[] = [];
    watcher = new SpotWatcher({ endpoint: imds.url, intervalMs: 20, log: logs().log, onNotice: (n) => notices.push(n) });
    watcher.start();
    await imds.waitFor((r) => r.method === 'GET');
    imds.notice = { action: 'stop', time: '2026-01-02T03:06:05Z' };
    await expect.poll(() => notices, { timeout: 5_000 }).toEqual([{ action: 'stop', time: '2026-01-02T03:06:05Z' }]);
    const seen = imds.requests.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(imds.requests.length).toBe(seen);
  });

  it('logs an unreachable IMDS once, keeps polling, and says when it answers again', async () => {
    imds = await new FakeImds().start();
    imds.failWith = 500;
    const { lines, log } = logs();
    const notices: SpotNotice[] = [];
    watcher = new SpotWatcher({ endpoint: imds.url, intervalMs: 10, log, onNotice: (n) => notices.push(n) });
    watcher.start();
    await imds.waitFor(() => imds!.requests.length >= 4);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(lines[0].msg).toMatch(/instance metadata unreachable/);
    imds.failWith = undefined;
    imds.notice = { action: 'terminate', time: 't' };
    await expect.poll(() => notices.length, { timeout: 5_000 }).toBe(1);
    expect(lines.map((l) => l.msg)).toContain('spot watch: instance metadata answers again');
  });

  it('stop() ends a watcher whose IMDS never answers, without a warning', async () => {
    const { lines, log } = logs();
    // a port nobody listens on: connection refused
    watcher = new SpotWatcher({ endpoint: 'http://127.0.0.1:9', intervalMs: 10, log, onNotice: () => undefined });
    watcher.start();
    await watcher.stop();
    expect(lines.filter((l) => l.level === 'warn').length).toBeLessThanOrEqual(1);
  });

  it('reads any body as a notice', () => {
    expect(parseNotice('{"action":"hibernate","time":"x"}')).toEqual({ action: 'hibernate', time: 'x' });
    expect(parseNotice('garbage')).toEqual({ action: 'unknown' });
  });
});
