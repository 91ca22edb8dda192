// Canary jobs: small commands with an answer the checker knows, placed through the normal submit path on
// the node under test. A canary is slashable evidence only because the node cannot tell it from a
// consumer's job and so cannot be honest only where it is watched: the agent gets the same dispatch shape
// a consumer's job gets (domain/job/dispatch.ts: id, attempt, image, command, env, GPUs, time limit; test
// test/domain/canary-disguise.test.ts), with values drawn from what consumer jobs use: an image from the
// operator's list, a shell one-liner from several templates over variable names common in real jobs, a
// usual time limit, fresh random operands, no name. A printed answer other than the known one is proof of
// dishonesty.
import type { SubmitJob } from '../schemas';

/** operands are below this so the product fits a signed 32-bit integer in every shell and expr */
export const MAX_OPERAND = 46_000;
export const MIN_OPERAND = 1_000;

// names real jobs pass numbers under (sizes, counts): nothing here reads as a test
const NAMES: readonly (readonly [string, string])[] = [
  ['A', 'B'],
  ['X', 'Y'],
  ['N', 'M'],
  ['ROWS', 'COLS'],
  ['WIDTH', 'HEIGHT'],
  ['BATCH_SIZE', 'SEQ_LEN'],
  ['NUM_SAMPLES', 'NUM_STEPS'],
  ['HIDDEN_DIM', 'NUM_LAYERS'],
  ['M', 'K'],
];
/** time limits consumers commonly set (a fixed, unusual one would mark canaries) */
const TIME_LIMITS = [300, 600, 900, 1200, 1800] as const;
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

/** The images a canary may name: `images` is a comma-separated list (CHECKER_CANARY_IMAGE). */
export const canaryImages = (images: string | undefined): string[] => (images ?? '').split(',').map((i) => i.trim()).filter(Boolean);

/**
 * A canary for a node of `gpuModel`; `randomInt(n)` returns an integer in [0, n) from a strong source.
 * `images`: one or a comma-separated list; each canary names one at random.
 */
export function canarySpec(gpuModel: string, images: string | undefined, randomInt: (n: number) => number): CanarySpec {
  const list = canaryImages(images);
  const image = list.length ? list[randomInt(list.length)] : undefined;
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
      maxDurationSeconds: TIME_LIMITS[randomInt(TIME_LIMITS.length)],
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
