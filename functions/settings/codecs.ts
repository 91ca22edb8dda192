// How one setting travels as an environment variable's text: read with a zod schema (so a bad value is a
// named error at cold start, never a NaN deep inside a use case) and written back by the inverse function.
// Empty text is no variable: written for nothing, read as the default.
import * as z from 'zod';

export interface Codec<T> {
  /** the variable's text → the value; fails with a message saying what was expected */
  read: z.ZodType<T>;
  /** the value → the text that reads back to it; '' writes no variable */
  write(value: T): string;
}

// decimal, with an optional exponent: String(n) of any finite number reads back to n
const NUMBER_TEXT = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const numberText = z.string().trim().regex(NUMBER_TEXT, 'expected a number').transform(Number);

interface NumberRule {
  min?: number;
  max?: number;
  /** whole numbers only (counts, micro-credits, basis points) */
  int?: boolean;
}

function ruled(r: NumberRule): z.ZodNumber {
  let n = z.number();
  if (r.int) n = n.int('expected a whole number');
  if (r.min !== undefined) n = n.min(r.min, `expected at least ${r.min}`);
  if (r.max !== undefined) n = n.max(r.max, `expected at most ${r.max}`);
  return n;
}

/** a number as written */
export const num = (r: NumberRule = { min: 0 }): Codec<number> => ({ read: numberText.pipe(ruled(r)), write: String });

/**
 * A number the variable gives in a coarser unit than the field (seconds → ms: 1000), its rule in the
 * variable's unit. Rounded to the field's whole unit on the way in, so 0.5 s is 500 ms and ms/1000 always
 * reads back to the same ms.
 */
export const scaled = (factor: number, r: NumberRule = { min: 0 }): Codec<number> => ({
  read: numberText.pipe(ruled(r)).transform((n) => Math.round(n * factor)),
  write: (v) => String(v / factor),
});

/** any text (names, ARNs, URLs); CDK tokens pass through as the text they are */
export const text = (): Codec<string> => ({ read: z.string(), write: (v) => v });

/** a URL prefix: a trailing '/' is dropped, so `${base}/s/<id>` never has two */
export const baseUrl = (): Codec<string> => ({ read: z.string().transform((s) => s.replace(/\/+$/, '')), write: (v) => v });

/** a switch spelled `on` or `off`; an `off` of '' writes no variable for false */
export const flag = (on: string, off: string): Codec<boolean> => ({
  read: z.string().trim().refine((s) => s === on || (off !== '' && s === off), `expected ${off ? `${on} or ${off}` : on}`).transform((s) => s === on),
  write: (v) => (v ? on : off),
});

/** comma-separated names out of `names` (address classes) */
export const names = <T extends string>(all: readonly [T, ...T[]]): Codec<T[]> => ({
  read: z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)).pipe(z.array(z.enum(all))),
  write: (v) => v.join(','),
});

/** comma-separated numbers, checked by the domain's own rule (which throws on a bad list) */
export const numbers = (check: (ns: readonly number[]) => readonly number[]): Codec<readonly number[]> => ({
  read: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.string().regex(NUMBER_TEXT, 'expected numbers separated by commas').transform(Number)))
    .transform((ns, ctx) => checked(ctx, () => check(ns))),
  write: (v) => v.join(','),
});

/** JSON, parsed and checked by the domain's own parser (which throws on a bad document) */
export const json = <T>(parse: (text: string) => T): Codec<T> => ({
  read: z.string().transform((s, ctx) => checked(ctx, () => parse(s))),
  write: (v) => JSON.stringify(v),
});

function checked<T>(ctx: z.RefinementCtx, f: () => T): T {
  try {
    return f();
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
}
