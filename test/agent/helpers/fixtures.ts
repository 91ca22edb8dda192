// Paths and readers for the test fixtures (real nvidia-smi captures, fake binaries).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
export const FAKE_BIN = join(FIXTURES, 'bin');

export function smiFixture(name: string): string {
  return readFileSync(join(FIXTURES, 'nvidia-smi', name), 'utf8');
}

/** PATH with the fake nvidia-smi and docker first. */
export function pathWithFakes(): string {
  return `${FAKE_BIN}:${process.env.PATH ?? ''}`;
}
