// The probe protocol between the checker and a node's agent (`POST /probe` on the agent's probe server).
//
//   checker → agent   {probe: {nodeId, nonce, issuedAt}, signature}       signed with the control plane's key
//   agent → checker   {answer: {nodeId, nonce, gpus, driverVersion, cudaVersion, load, challenge, at, bench?},
//                      signature}                                          signed with the node's own key
//
// The agent refuses a probe that is unsigned or badly signed, for another node, outside ±PROBE_WINDOW_MS of
// its clock, or whose nonce it has already answered within that window. The checker accepts an answer only
// with the node's registered key's signature, its own nonce and the right node id.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { GpuDeviceSchema } from '../agent-protocol';

/** a probe is valid this long either side of its issuedAt (and its nonce remembered that long) */
export const PROBE_WINDOW_MS = 60_000;
/** bytes of randomness in a nonce (128 bits) */
export const NONCE_BYTES = 16;
/**
 * iterations of the challenge hash. The nonce is fresh and random, so no answer can be looked up whatever
 * the count; the rounds only make the answer a computation rather than a copy. Both sides pay them on every
 * probe (the checker for every node), so they stay few: 64 rounds cost ~0.15 ms.
 */
export const CHALLENGE_ROUNDS = 64;
/** the probe server reads at most this much of a request, the checker at most this much of an answer */
export const MAX_PROBE_BODY_BYTES = 64 * 1024;

const nonce = z.string().regex(/^[A-Za-z0-9_-]{22}$/, '128-bit base64url nonce');
const nodeId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);

export const ProbeSchema = z.strictObject({
  nodeId,
  nonce,
  /** epoch ms, the checker's clock */
  issuedAt: z.number().int().min(0),
});
export type Probe = z.infer<typeof ProbeSchema>;

export const SignedProbeSchema = z.strictObject({ probe: ProbeSchema, signature: z.string().max(200) });
export type SignedProbe = z.infer<typeof SignedProbeSchema>;

export const ProbeAnswerSchema = z.strictObject({
  nodeId,
  nonce,
  gpus: z.array(GpuDeviceSchema).max(64),
  driverVersion: z.string().max(32).optional(),
  cudaVersion: z.string().max(32).optional(),
  load: z.strictObject({ running: z.number().int().min(0).max(1024), freeGpus: z.number().int().min(0).max(64) }),
  /** challengeAnswer(nonce, uuids of the GPUs reported) */
  challenge: z.string().regex(/^[0-9a-f]{64}$/),
  /** epoch ms, the agent's clock */
  at: z.number().int().min(0),
  /** optional benchmark result (GPUPOOL_BENCH_COMMAND): dense BF16 (FP16 on Turing) matmul TFLOPS per GPU */
  bench: z.strictObject({ tflops: z.number().min(0).max(100_000) }).optional(),
});
export type ProbeAnswer = z.infer<typeof ProbeAnswerSchema>;

export const SignedProbeAnswerSchema = z.strictObject({ answer: ProbeAnswerSchema, signature: z.string().max(200) });
export type SignedProbeAnswer = z.infer<typeof SignedProbeAnswerSchema>;

/**
 * The challenge: SHA-256 over the nonce and the GPU uuids (in index order), iterated. It binds the answer
 * to this probe and to the inventory the node claims, so a recorded answer cannot be replayed and a node
 * cannot answer for GPUs other than the ones it reports. It proves freshness and that the agent runs our
 * protocol; it is not a proof of GPU work (canary jobs and the benchmark check that).
 */
export function challengeAnswer(nonceText: string, uuids: readonly string[]): string {
  let h = createHash('sha256').update(`gpupool-challenge-v1\n${nonceText}\n${uuids.join('\n')}`).digest();
  for (let i = 1; i < CHALLENGE_ROUNDS; i++) h = createHash('sha256').update(h).digest();
  return h.toString('hex');
}

export type ProbeRefusal = 'unsigned' | 'bad_signature' | 'wrong_node' | 'stale' | 'replayed' | 'malformed' | 'not_ready';

/** Why an agent refuses a well-formed, signed probe (signature already checked), or undefined to answer it. */
export function probeRefusal(probe: Probe, p: { ownNodeId: string | undefined; now: number; seen: (nonce: string) => boolean }): ProbeRefusal | undefined {
  if (!p.ownNodeId) return 'not_ready';
  if (probe.nodeId !== p.ownNodeId) return 'wrong_node';
  if (Math.abs(p.now - probe.issuedAt) > PROBE_WINDOW_MS) return 'stale';
  if (p.seen(probe.nonce)) return 'replayed';
  return undefined;
}

/** HTTP status the probe server answers a refusal with. */
export const REFUSAL_STATUS: Record<ProbeRefusal, number> = {
  unsigned: 401,
  bad_signature: 401,
  wrong_node: 403,
  stale: 403,
  replayed: 409,
  malformed: 400,
  not_ready: 503,
};
