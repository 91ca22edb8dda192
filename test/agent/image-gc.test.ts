// Image garbage collection's choice (agent/runtime/image-gc.ts) and the pull failure types (pull.ts): pure.
import { describe, expect, it } from 'vitest';
import { pickLeastRecentlyUsed, type GcImage } from '../../agent/runtime/image-gc';
import { classifyPullFailure, imageDigest, movingTag, registryWords } from '../../agent/runtime/pull';

const MB = 1024 ** 2;
const img = (id: string, mb: number, lastUsedAt: number, inUse = false): GcImage => ({ id, sizeBytes: mb * MB, lastUsedAt, inUse });

describe('least recently used selection', () => {
  it('removes the least recently used first, only until the rest fits the budget', () => {
    const images = [img('c', 100, 30), img('a', 100, 10), img('b', 100, 20), img('d', 100, 40)];
    expect(pickLeastRecentlyUsed(images, 250 * MB)).toEqual(['a', 'b']);
    expect(pickLeastRecentlyUsed(images, 400 * MB)).toEqual([]);
    expect(pickLeastRecentlyUsed(images, 0)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('never picks an image in use, even when that leaves the total above the budget', () => {
    const images = [img('old-running', 500, 1, true), img('b', 100, 2), img('c', 100, 3)];
    expect(pickLeastRecentlyUsed(images, 100 * MB)).toEqual(['b', 'c']);
  });

  it('breaks ties by id, so the choice is repeatable', () => {
    expect(pickLeastRecentlyUsed([img('y', 10, 5), img('x', 10, 5)], 10 * MB)).toEqual(['x']);
  });
});

describe('pull failure types', () => {
  it.each([
    ['Error response from daemon: manifest for 127.0.0.1:5000/nope:1 not found: manifest unknown: manifest unknown', 'IMAGE_NOT_FOUND'],
    ["Error response from daemon: pull access denied for nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", 'IMAGE_NOT_FOUND'],
    ['no matching manifest for linux/amd64 in the manifest list entries', 'IMAGE_NOT_FOUND'],
    ['Error response from daemon: Head "http://127.0.0.1:5000/v2/x/manifests/1": no basic auth credentials', 'REGISTRY_UNAUTHORIZED'],
    ['Error response from daemon: unauthorized: authentication required', 'REGISTRY_UNAUTHORIZED'],
    ['Error response from daemon: Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused', 'REGISTRY_UNREACHABLE'],
    ['Error response from daemon: Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)', 'REGISTRY_UNREACHABLE'],
    ['toomanyrequests: You have reached your pull rate limit.', 'REGISTRY_UNREACHABLE'],
    ['failed to register layer: write /usr/lib/x.so: no space left on device', 'NO_DISK_SPACE'],
    ['something docker never said before', undefined],
  ])('%s → %s', (line, type) => {
    expect(classifyPullFailure([line])).toBe(type);
  });

  it("keeps the registry's words, without docker's prefix", () => {
    expect(registryWords(['Error response from daemon: manifest unknown'])).toBe('manifest unknown');
  });
});

describe('images', () => {
  it('a reference without a tag or tagged latest may move; a version tag or a digest does not', () => {
    expect([movingTag('busybox'), movingTag('ghcr.io/a/b:latest'), movingTag('ghcr.io/a/b:1'), movingTag(`a@sha256:${'0'.repeat(64)}`)]).toEqual([true, true, false, false]);
  });

  it("shows the registry's digest for the reference's repository, else the image id", () => {
    const d = (c: string) => `sha256:${c.repeat(64)}`;
    expect(imageDigest('127.0.0.1:5000/x/y:1', d('1'), [`other/repo@${d('2')}`, `127.0.0.1:5000/x/y@${d('3')}`])).toBe(d('3'));
    expect(imageDigest('gpupool-test/busybox:1', d('1'), [])).toBe(d('1'));
    expect(imageDigest(`x/y@${d('4')}`, d('1'), [`x/y@${d('5')}`])).toBe(d('4'));
  });
});
