// The digest replicated verification compares (docs/checkers.md): SHA-256 over the attempt's stdout, line
// by line as the runtime delivered them, each followed by "\n". Only stdout: stderr carries warnings,
// progress bars and timings that differ between honest runs; a job's result is what it prints. Every line
// counts, those beyond the upload limit too, so two nodes with different log limits still agree.
import { createHash, type Hash } from 'node:crypto';
import type { Stream } from './runtime/types';

export class OutputDigest {
  private readonly hash: Hash = createHash('sha256');

  push(stream: Stream, text: string): void {
    if (stream === 'stdout') this.hash.update(`${text}\n`);
  }

  /** `sha256:<hex>`; call once, at the end */
  value(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
