import { describe, expect, it } from 'vitest';
import { isImageReference } from '../../functions/domain/image-ref';
import { SubmitJobSchema } from '../../functions/domain/schemas';

const job = (image: string) => ({ image, command: ['true'], resources: { gpus: 1 } });

describe('image references (Docker reference grammar)', () => {
  it.each([
    'busybox',
    'ubuntu:22.04',
    'ghcr.io/acme/train:1',
    'nvcr.io/nvidia/pytorch:24.05-py3',
    'localhost:5000/team/model:v1.2_rc-3',
    '127.0.0.1:5000/x',
    '[::1]:5000/x',
    `repo@sha256:${'a'.repeat(64)}`,
    `registry.example.com/a/b:tag@sha256:${'0'.repeat(64)}`,
  ])('accepts %s', (image) => {
    expect(isImageReference(image)).toBe(true);
    expect(SubmitJobSchema.safeParse(job(image)).success).toBe(true);
  });

  it.each([
    ['a flag', '--privileged'],
    ['a short flag', '-v'],
    ['a flag with a value', '--volume=/:/host'],
    ['a space', 'busybox sh'],
    ['a shell character', 'busybox;id'],
    ['uppercase repository', 'Busybox'],
    ['an empty tag', 'busybox:'],
    ['a component starting with a separator', 'acme/-x'],
    ['a short digest', 'repo@sha256:abc'],
    ['a newline', 'busybox\n--privileged'],
    ['a name over 255 characters', `a/${'b'.repeat(254)}`],
  ])('refuses %s', (_what, image) => {
    expect(isImageReference(image)).toBe(false);
    const r = SubmitJobSchema.safeParse(job(image));
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ['image'], message: expect.stringMatching(/Docker image reference/) });
  });
});
