// The agent's side of the image cache: `docker image ls` lines become the bounded, canonical list a
// heartbeat carries (never one the control plane would refuse), and heartbeat answers' warm images reach
// the puller. The real engine is in test/e2e/image-cache-docker.test.ts.
import { describe, expect, it, vi } from 'vitest';
import type { ControlPlane } from '../../agent/api';
import { Heartbeat } from '../../agent/heartbeat';
import { silentLogger } from '../../agent/log';
import { parseImageList } from '../../agent/runtime/images';
import { HeartbeatRequestSchema } from '../../functions/domain/agent-protocol';

const DIGEST = `sha256:${'0f'.repeat(32)}`;

describe('the images a node lists', () => {
  it('turns docker image ls --digests lines into canonical references, <none> parts left out', () => {
    const lines = [
      `ghcr.io/acme/train\t1\t${DIGEST}`,
      'gpupool-test/busybox\t1\t<none>',
      '<none>\t<none>\t<none>',
      `busybox\t<none>\t${DIGEST}`,
    ];
    expect(parseImageList(lines)).toEqual(
      [`docker.io/library/busybox@${DIGEST}`, 'docker.io/gpupool-test/busybox:1', `ghcr.io/acme/train@${DIGEST}`, 'ghcr.io/acme/train:1'].sort(),
    );
  });

  it('never lists more, or anything else, than a heartbeat may carry', () => {
    const many = Array.from({ length: 200 }, (_, i) => `repo/img${i}\tv${i}\t${DIGEST}`);
    const junk = ['-rf\t1\t<none>', 'UPPER/x\t1\t<none>', `x\t${'t'.repeat(200)}\t<none>`];
    const list = parseImageList([...junk, ...many]);
    expect(list.length).toBe(32);
    expect(HeartbeatRequestSchema.safeParse({ running: [], images: list }).success).toBe(true);
    expect(parseImageList(junk)).toEqual([]);
  });
});

describe('heartbeat images', () => {
  function heartbeat(images: () => Promise<string[] | undefined>, warmImages?: string[]) {
    const api = { heartbeat: vi.fn(async () => ({ nextHeartbeatSeconds: 60, stale: [], cancel: [], ...(warmImages ? { warmImages } : {}) })) } as unknown as ControlPlane;
    const onWarmImages = vi.fn();
    const hb = new Heartbeat({
      api, log: silentLogger, running: () => [], freeGpus: () => 1,
      periods: () => ({ busySeconds: 10, idleSeconds: 60 }), onStale: () => {}, onCancel: () => {}, images, onWarmImages,
    });
    return { hb, onWarmImages, calls: (api.heartbeat as ReturnType<typeof vi.fn>).mock.calls };
  }

  it('carries the list and hands the warm images of the answer on', async () => {
    const t = heartbeat(async () => ['docker.io/library/busybox:1'], ['busybox:1', 'ghcr.io/acme/train:1']);
    await t.hb.beatNow();
    t.hb.stop();
    expect(t.calls[0][0].images).toEqual(['docker.io/library/busybox:1']);
    expect(t.onWarmImages).toHaveBeenCalledWith(['busybox:1', 'ghcr.io/acme/train:1']);
  });

  it('still beats, without images, when there is no list or listing throws', async () => {
    for (const source of [async () => undefined, () => Promise.reject(new Error('docker gone'))]) {
      const t = heartbeat(source);
      await t.hb.beatNow();
      t.hb.stop();
      expect(t.calls[0][0]).not.toHaveProperty('images');
      expect(t.onWarmImages).not.toHaveBeenCalled();
    }
  });
});
