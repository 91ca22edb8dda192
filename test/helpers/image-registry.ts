// A read-only Docker registry (the v2 pull API) on a free loopback port, serving one image exported from the
// test engine with `docker save`: enough for a real `docker pull` of 127.0.0.1:PORT/NAME:TAG (Docker talks
// plain HTTP to loopback registries and never through its proxy). Pushes are not supported.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface ServedImage {
  /** 127.0.0.1:PORT/NAME:TAG */
  ref: string;
  /** the manifest's digest: `ref` pulled lists as NAME@digest */
  digest: string;
  close(): Promise<void>;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The files of a tar archive (plain ustar, as `docker save` writes it). */
function untar(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (from: number, len: number) => header.subarray(from, from + len).toString('utf8').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = (prefix ? `${prefix}/` : '') + field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    if (type === '0' || type === '') files.set(name, tar.subarray(off + 512, off + 512 + size));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Serves `image` (present in the engine `dockerHost`) as `<name>:<tag>` on a new loopback registry. */
export async function serveImage(dockerHost: string, image: string, name: string, tag: string): Promise<ServedImage> {
  const saved = await new Promise<Buffer>((resolve, reject) =>
    execFile('docker', ['save', image], { env: { ...process.env, DOCKER_HOST: dockerHost }, encoding: 'buffer', maxBuffer: 256 << 20 }, (err, out) => (err ? reject(err) : resolve(out))),
  );
  const files = untar(saved);
  const [entry] = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string; Layers: string[] }[];
  const blobs = new Map<string, Buffer>();
  const config = files.get(entry.Config)!;
  blobs.set(sha256(config), config);
  const layers = entry.Layers.map((l) => {
    const gz = gzipSync(files.get(l)!);
    blobs.set(sha256(gz), gz);
    return { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: gz.length, digest: sha256(gz) };
  });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha256(config) },
      layers,
    }),
  );
  const digest = sha256(manifest);
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    const send = (status: number, body: Buffer, type: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(body.length), 'Docker-Distribution-API-Version': 'registry/2.0', ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (url === '/v2/' || url === '/v2') return send(200, Buffer.from('{}'), 'application/json');
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url);
    if (m && m[1] === name && m[2] === 'manifests' && (m[3] === tag || m[3] === digest)) {
      return send(200, manifest, 'application/vnd.docker.distribution.manifest.v2+json', { 'Docker-Content-Digest': digest });
    }
    const blob = m && m[1] === name && m[2] === 'blobs' ? blobs.get(m[3]) : undefined;
    if (blob) return send(200, blob, 'application/octet-stream', { 'Docker-Content-Digest': m![3] });
    send(404, Buffer.from(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'not here' }] })), 'application/json');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    ref: `127.0.0.1:${port}/${name}:${tag}`,
    digest,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
