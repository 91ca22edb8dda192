// A checker's canary must look like consumer work to the node it checks (issue 14, item 1): what the
// agent is told about it — the dispatch message (domain/job/dispatch.ts) — has the same fields as a
// consumer's job, only the values differ, and nothing in it says canary. The start answer is the same
// `{status, attemptId}` for every job (usecases/agent.ts startAttempt), so the dispatch is all there is.
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DispatchMessageSchema } from '../../functions/domain/agent-protocol';
import { canaryImages, canarySpec } from '../../functions/domain/checker/canary';
import { dispatchMessage } from '../../functions/domain/job/dispatch';
import type { Job } from '../../functions/domain/model';
import { SubmitJobSchema } from '../../functions/domain/schemas';
import { DEFAULT_CHECKER } from '../../functions/usecases/checker-settings';
import { canaryAccountId } from '../../functions/usecases/checker-canary';

/** The job submitJob makes of a body (functions/usecases/jobs.ts), as the dispatch reads it. */
const jobOf = (body: unknown, extra: Partial<Job> = {}): Job => ({
  ...SubmitJobSchema.parse(body),
  id: '01j9zq3k4m5n6p7q8r9s0t1v2w',
  accountId: '01j9zq0000aaaabbbbccccdddd',
  status: 'ASSIGNED',
  attempts: [],
  createdAt: 0,
  queuedAt: 0,
  version: 1,
  ...extra,
});

/** every field path of a message with the type of its value (record keys of `env` are values, not fields) */
function shape(v: unknown, path = ''): string[] {
  if (path === '.spec.env') return [`${path}:record<string,string>`];
  if (Array.isArray(v)) return [`${path}:array<${[...new Set(v.map((x) => typeof x))].join('|')}>`];
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => shape(x, `${path}.${k}`));
  return [`${path}:${typeof v}`];
}
/** every key and string value in a message */
const words = (v: unknown): string[] =>
  Array.isArray(v) ? v.flatMap(words) : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...words(x)]) : typeof v === 'string' ? [v] : [];
// (`pin` only as a word of its own: "alpine" is an image, not a tell)
const TELLS = /canar|checker|probe|system|known|test|verify|\bpin|pinned|pinNode/i;

describe("a canary's dispatch looks like a consumer job's", () => {
  const consumer = jobOf({
    image: 'pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime',
    command: ['sh', '-c', 'python train.py --epochs "$EPOCHS"'],
    env: { EPOCHS: '3', WANDB_MODE: 'offline' },
    resources: { gpus: 1 },
    maxDurationSeconds: 1800,
  });

  it('has the same fields, field by field, with only values differing, in every variant the checker draws', () => {
    const c = dispatchMessage(consumer, '01j9zq3k4m5n6p7q8r9s0t1v2x');
    expect(DispatchMessageSchema.parse(c)).toEqual(c);
    for (let i = 0; i < 200; i++) {
      const spec = canarySpec('A100', DEFAULT_CHECKER.canaryImage, randomInt);
      // the job the checker submits: pinned, free, one attempt — none of which travels to the node
      const canary = dispatchMessage(jobOf({ ...spec.body }, { pinNodeId: 'node-1', accountId: canaryAccountId(Buffer.from('k')) }), '01j9zq3k4m5n6p7q8r9s0t1v2y');
      expect(DispatchMessageSchema.parse(canary)).toEqual(canary);
      expect(shape(canary)).toEqual(shape(c));
      expect(Object.keys(canary.spec)).toEqual(Object.keys(c.spec));
      expect(canary.type).toBe('dispatch');
      // no key or value names the checker, and the ids look like any job's
      expect(words(canary).filter((w) => TELLS.test(w))).toEqual([]);
      expect(canary.jobId).toMatch(/^[0-9a-z]{26}$/);
      // values drawn from what consumers use: an image of the list, a usual time limit, one GPU
      expect(canaryImages(DEFAULT_CHECKER.canaryImage)).toContain(canary.spec.image);
      expect([300, 600, 900, 1200, 1800]).toContain(canary.spec.maxDurationSeconds);
      expect(canary.spec.gpus).toBe(1);
      expect(canary.spec.command.slice(0, 2)).toEqual(['sh', '-c']);
    }
  });

  it('draws its image, variable names, template and time limit from several, not one fixed tell', () => {
    const specs = Array.from({ length: 300 }, () => canarySpec('A100', DEFAULT_CHECKER.canaryImage, randomInt).body);
    expect(new Set(specs.map((s) => s.image)).size).toBeGreaterThan(1);
    expect(new Set(specs.map((s) => s.maxDurationSeconds)).size).toBeGreaterThan(1);
    expect(new Set(specs.map((s) => Object.keys(s.env).join())).size).toBeGreaterThan(3);
    expect(new Set(specs.map((s) => s.command[2].replace(/[A-Z_]+/g, 'V'))).size).toBeGreaterThan(1);
  });

  it("sends an account id nowhere, and its account id looks like any other and is not a well-known name", () => {
    const c = dispatchMessage(jobOf(canarySpec('A100', undefined, randomInt).body, { accountId: 'acct-x' }), 'a1');
    expect(words(c)).not.toContain('acct-x');
    const id = canaryAccountId(Buffer.from('secret one'));
    expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
    expect(id).toBe(canaryAccountId(Buffer.from('secret one')));
    expect(id).not.toBe(canaryAccountId(Buffer.from('secret two')));
  });

  it("names a replica by its group's id, as it names a plain job by its own", () => {
    const sibling = dispatchMessage({ ...consumer, id: `${consumer.id}-r1`, replicaGroup: consumer.id, replicaIndex: 1, verification: { replicas: 3 } }, 'a2');
    expect(sibling.jobId).toBe(consumer.id);
    expect(shape(sibling)).toEqual(shape(dispatchMessage(consumer, 'a3')));
  });
});
