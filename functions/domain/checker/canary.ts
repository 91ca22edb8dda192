// Canary jobs: small commands with an answer the checker knows, placed through the normal submit path on
// the node under test. The agent sees an ordinary dispatch (command, env, one GPU, a time limit): the
// command template and the variable names vary, the numbers are fresh random ones, and the job carries no
// name. A printed answer other than the known one is proof of dishonesty.
import type { SubmitJob } from '../schemas';

/** operands are below this so the product fits a signed 32-bit integer in every shell and expr */
export const MAX_OPERAND = 46_000;
export const MIN_OPERAND = 1_000;

const NAMES: readonly (readonly [string, string])[] = [
  ['A', 'B'],
  ['X', 'Y'],
  ['N', 'M'],
  ['LHS', 'RHS'],
  ['ROWS', 'COLS'],
];
const TEMPLATES: readonly ((a: string, b: string) => string)[] = [
  (a, b) => `echo $((${a} * ${b}))`,
  (a, b) => `expr "$${a}" '*' "$${b}"`,
  (a, b) => `printf '%d\\n' "$((${a} * ${b}))"`,
];

export interface CanarySpec {
  body: SubmitJob;
  /** the one line the job must print on stdout */
  expected: string;
}

/** A canary for a node of `gpuModel`; `randomInt(n)` returns an integer in [0, n) from a strong source. */
export function canarySpec(gpuModel: string, image: string | undefined, randomInt: (n: number) => number): CanarySpec {
  const [na, nb] = NAMES[randomInt(NAMES.length)];
  const a = MIN_OPERAND + randomInt(MAX_OPERAND - MIN_OPERAND);
  const b = MIN_OPERAND + randomInt(MAX_OPERAND - MIN_OPERAND);
  const script = TEMPLATES[randomInt(TEMPLATES.length)](na, nb);
  return {
    expected: String(a * b),
    body: {
      ...(image ? { image } : {}),
      command: ['sh', '-c', script],
      env: { [na]: String(a), [nb]: String(b) },
      resources: { gpus: 1, gpuModels: [gpuModel], nodes: 1 },
      maxDurationSeconds: 60,
      // a canary is never moved to another node: if the node loses it, there is nothing to judge
      maxAttempts: 1,
      priority: 0,
      queueTtlSeconds: 600,
    },
  };
}

export type CanaryJudgement = { verdict: 'ok' } | { verdict: 'wrong'; printed: string } | { verdict: 'missing' };

/** Judges the stdout lines of the attempt that ran on the node: every integer printed must be the answer. */
export function judgeCanaryOutput(stdout: readonly string[], expected: string): CanaryJudgement {
  const ints = stdout.map((l) => l.trim()).filter((l) => /^-?\d+$/.test(l));
  if (ints.length === 0) return { verdict: 'missing' };
  const wrong = ints.find((l) => l !== expected);
  return wrong === undefined ? { verdict: 'ok' } : { verdict: 'wrong', printed: wrong.slice(0, 40) };
}
