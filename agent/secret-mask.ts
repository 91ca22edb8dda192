// Masks an attempt's secret values in its output, the way GitHub Actions does (docs/data.md, Secrets):
// every occurrence of a value in a line becomes `***` before the line leaves the agent, replicated
// verification's digest included (replicas then compare the masked text, which is what their consumer
// sees). A value of several lines is also masked line by line, since output is cut into lines. What is
// not masked: values shorter than MIN_MASKED_LENGTH, a value transformed (base64, reversed, split across
// output lines, printed one character at a time) — masking is a safety net, not a boundary.
import { MIN_MASKED_LENGTH } from '../functions/domain/secrets/limits';

export const MASK = '***';

export class SecretMask {
  /** longest first, so a value containing another is masked whole */
  private readonly needles: string[];

  constructor(values: Iterable<string>) {
    const all = new Set<string>();
    for (const v of values) {
      for (const part of [v, ...v.split(/\r?\n/)]) if (part.length >= MIN_MASKED_LENGTH) all.add(part);
    }
    this.needles = [...all].sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.needles.length === 0;
  }

  mask(text: string): string {
    let out = text;
    for (const n of this.needles) if (out.includes(n)) out = out.split(n).join(MASK);
    return out;
  }
}

/** The values to mask for an attempt: its secret env values and its registry password. */
export function secretValues(s: { env: Record<string, string>; registryAuth?: { password: string } } | undefined): string[] {
  if (!s) return [];
  return [...Object.values(s.env), ...(s.registryAuth ? [s.registryAuth.password] : [])];
}
