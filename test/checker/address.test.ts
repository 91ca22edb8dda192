// The SSRF guard: which probe URLs and resolved addresses the checker refuses.
import { describe, expect, it } from 'vitest';
import { classifyHost, parseIPv4, parseIPv6, probeTarget } from '../../functions/domain/checker/address';
import { resolveProbeTarget, type Resolver } from '../../functions/usecases/checker-probe-client';

describe('hostile probe URLs are refused before any packet is sent', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data/', 'linkLocal'],
    ['http://[::1]:8790/probe', 'loopback'],
    ['http://0x7f.1:8790/probe', 'loopback'],
    ['http://2130706433:8790/probe', 'loopback'],
    ['http://0177.0.0.1/probe', 'loopback'],
    ['http://127.1/probe', 'loopback'],
    ['http://10.1.2.3:8790/probe', 'private'],
    ['http://172.16.5.4/probe', 'private'],
    ['http://192.168.1.10/probe', 'private'],
    ['http://100.64.0.7/probe', 'private'],
    ['http://[fd00::1]/probe', 'private'],
    ['http://[fe80::1]/probe', 'linkLocal'],
    ['http://[::ffff:127.0.0.1]/probe', 'loopback'],
    ['http://[::ffff:169.254.169.254]/probe', 'linkLocal'],
    ['http://[64:ff9b::a01:203]/probe', 'private'],
    ['http://[2002:a9fe:a9fe::1]/probe', 'linkLocal'],
    ['http://0.0.0.0:8790/probe', 'unspecified'],
    ['http://[::]/probe', 'unspecified'],
    ['http://224.0.0.1/probe', 'multicast'],
    ['http://[ff02::1]/probe', 'multicast'],
    ['http://255.255.255.255/probe', 'reserved'],
    ['http://192.0.2.10/probe', 'reserved'],
  ])('%s (%s)', async (url, cls) => {
    expect(probeTarget(url)).toEqual({ problem: `${cls} address refused` });
    await expect(resolveProbeTarget(url, [])).rejects.toThrow(`${cls} address refused`);
  });

  it.each([
    ['file:///etc/passwd', /scheme/],
    ['gopher://1.2.3.4/', /scheme/],
    ['http://user:pw@1.2.3.4/', /credentials/],
    ['not a url', /not a URL/],
  ])('%s', (url, problem) => expect((probeTarget(url) as { problem: string }).problem).toMatch(problem));

  it('allows loopback only where the local stack says so', () => {
    expect(probeTarget('http://127.0.0.1:4000/probe', ['loopback'])).toMatchObject({ address: { address: '127.0.0.1', family: 4 } });
    expect(probeTarget('http://10.0.0.1:4000/probe', ['loopback'])).toEqual({ problem: 'private address refused' });
  });
});

describe('names are resolved once and every address is checked', () => {
  const resolver = (table: Record<string, string[]>): Resolver => async (host) => {
    const list = table[host];
    if (!list) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const dns = resolver({
    'inside.example': ['10.9.8.7'],
    'mixed.example': ['93.184.216.34', '192.168.0.5'],
    'metadata.example': ['169.254.169.254'],
    'v6inside.example': ['fd12::3'],
    'good.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  });

  it.each([
    ['http://inside.example:8790/probe', /inside\.example resolves to a private address refused/],
    ['http://mixed.example/probe', /private address refused/],
    ['http://metadata.example/probe', /linkLocal/],
    ['http://v6inside.example/probe', /private/],
    ['http://nowhere.example/probe', /cannot resolve nowhere\.example: ENOTFOUND/],
  ])('%s is refused', async (url, problem) => {
    await expect(resolveProbeTarget(url, [], dns)).rejects.toThrow(problem);
  });

  it('connects to the checked address, keeping the name for the Host header', async () => {
    const r = await resolveProbeTarget('https://good.example:8443/probe', [], dns);
    expect(r.address).toEqual({ address: '93.184.216.34', family: 4 });
    expect(r.target).toMatchObject({ host: 'good.example', port: 8443, protocol: 'https:', path: '/probe' });
  });
});

describe('allowed public addresses', () => {
  it.each([
    ['http://93.184.216.34:8790/probe', '93.184.216.34', 4],
    ['http://8.8.8.8/probe', '8.8.8.8', 4],
    ['http://[2606:4700:4700::1111]/probe', '2606:4700:4700:0:0:0:0:1111', 6],
    ['http://172.32.0.1/probe', '172.32.0.1', 4],
    ['http://100.128.0.1/probe', '100.128.0.1', 4],
  ])('%s', (url, address, family) => {
    expect(probeTarget(url)).toMatchObject({ address: { address, family } });
  });
});

describe('address parsing', () => {
  it.each([
    ['127.0.0.1', 0x7f000001],
    ['0x7f.1', 0x7f000001],
    ['2130706433', 0x7f000001],
    ['0177.0.0.01', 0x7f000001],
    ['10.1', 0x0a000001],
    ['1.2.3.256', undefined],
    ['1.2.3.4.5', undefined],
    ['0x1g', undefined],
    ['4294967296', undefined],
  ])('IPv4 %s', (text, n) => expect(parseIPv4(text)).toBe(n));

  it.each([
    ['::1', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['::', [0, 0, 0, 0, 0, 0, 0, 0]],
    ['fe80::1%eth0', [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
    ['::ffff:10.0.0.1', [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]],
    ['1:2:3:4:5:6:7::', [1, 2, 3, 4, 5, 6, 7, 0]],
    ['1::2::3', undefined],
    ['12345::', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
  ])('IPv6 %s', (text, words) => expect(parseIPv6(text)).toEqual(words));

  it('does not hand odd numeric forms to a resolver', () => {
    expect(classifyHost('1.2.3.4.5')).toBeUndefined();
    expect(classifyHost('node-7.gpu.example.com')).toEqual({ kind: 'name', name: 'node-7.gpu.example.com' });
  });
});
