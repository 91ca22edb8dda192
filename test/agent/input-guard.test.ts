// A consumer's URL input is fetched on the provider's host: the node refuses addresses that are not public
// (metadata endpoint, private networks, loopback) where it connects, whatever the name resolved to at submit.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedAddress, getPinned, inputAddressRules } from '../../agent/files/input-guard';
import { download, InputError } from '../../agent/files/transfer';

const CLOUD = inputAddressRules(false);
const LOCAL = inputAddressRules(true);
const answers = (...addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

let server: Server;
let port = 0;
let requests = 0;
const dir = mkdtempSync(path.join(tmpdir(), 'gpupool-guard-'));
beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    res.end(`host ${req.headers.host}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('input URL guard', () => {
  it.each([
    ['the metadata endpoint', 'https://metadata.test/latest/meta-data/', ['169.254.169.254'], /link-local|not public|address/],
    ['a private network', 'https://intranet.test/x', ['10.0.0.7'], /private|not public|address/],
    ['loopback', 'https://local.test/x', ['127.0.0.1'], /loopback|not public|address/],
    ['a name with one public and one private address', 'https://mixed.test/x', ['93.184.216.34', '192.168.1.10'], /private|not public|address/],
  ])('refuses a name that resolves to %s (on a cloud node)', async (_what, url, addrs, why) => {
    await expect(checkedAddress(url, CLOUD, answers(...addrs) as never)).rejects.toThrow(why);
  });

  it('refuses IP literals and plain http to anything but loopback on a local node, and http at all on a cloud node', async () => {
    await expect(checkedAddress('https://169.254.169.254/', LOCAL)).rejects.toThrow(/input URL|address/);
    await expect(checkedAddress(`http://127.0.0.1:${port}/x`, CLOUD)).rejects.toThrow(/https|loopback/);
    await expect(checkedAddress('http://example.test/x', CLOUD, answers('93.184.216.34') as never)).rejects.toThrow(/https/);
  });

  it('answers the checked public address, and the request goes to that address with the name kept', async () => {
    expect(await checkedAddress('https://files.example.test/w.bin', CLOUD, answers('93.184.216.34') as never)).toMatchObject({ address: '93.184.216.34', family: 4 });
    // pinned: "pinned.test" resolves nowhere but here; the socket goes to the address that was checked
    const to = await checkedAddress(`http://pinned.test:${port}/x`, LOCAL, answers('127.0.0.1') as never);
    const r = await getPinned(to, 5_000);
    let text = '';
    for await (const c of r.body) text += c;
    expect(r.status).toBe(200);
    expect(text).toBe(`host pinned.test:${port}`);
  });

  it('a guarded download never reaches a refused address; the control plane’s own links are not guarded', async () => {
    const before = requests;
    const to = path.join(dir, 'in', 'a.bin');
    await expect(download({ url: `http://127.0.0.1:${port}/a`, to, budget: 1000, guard: CLOUD })).rejects.toBeInstanceOf(InputError);
    expect(requests).toBe(before);
    expect(await download({ url: `http://127.0.0.1:${port}/a`, to, budget: 1000, guard: LOCAL })).toBeGreaterThan(0);
    expect(await download({ url: `http://127.0.0.1:${port}/b`, to: path.join(dir, 'b.bin'), budget: 1000 })).toBeGreaterThan(0);
    expect(readFileSync(to, 'utf8')).toBe(`host 127.0.0.1:${port}`);
    expect(requests).toBe(before + 2);
  });
});
