// The wire forms of the open checker network (docs/checkers.md, The checker network) and the rules a
// report must meet: registration, the signed report, and the probes the control plane hands a checker.
//
// Agents answer only probes signed with the control plane's key, so a third-party checker does not sign
// probes itself: its assignments carry one control-plane-signed probe per node, whose nonce is a MAC of
// (epoch, license, node, issuedAt) under the epoch's secret seed. A report that a node is healthy must
// carry the node's signed answer to exactly that probe, so "ok" can only come from a real, fresh probe by
// that checker; a report is signed with the checker's own registered Ed25519 key. Pure.
import { createHmac } from 'node:crypto';
import * as z from 'zod';
import { IdSchema } from '../schemas';
import { ProbeAnswerSchema } from './probe';

export const RegisterCheckerSchema = z.strictObject({
  licenseId: IdSchema,
  /** Ed25519, base64 SPKI DER or PEM: reports are verified with it */
  publicKey: z.string().min(1).max(256),
});

export const CheckerReportSchema = z.strictObject({
  epoch: z.number().int().min(0),
  licenseId: IdSchema,
  nodeId: IdSchema,
  ok: z.boolean(),
  /** the probe's round trip, ms */
  rttMs: z.number().int().min(0).max(600_000).optional(),
  reason: z.string().max(200).optional(),
  /** the probe the assignment handed out (its issuedAt), and the node's signed answer when ok */
  issuedAt: z.number().int().min(0),
  answer: z.strictObject({ answer: ProbeAnswerSchema, signature: z.string().max(200) }).optional(),
});
export type CheckerReport = z.infer<typeof CheckerReportSchema>;

export const SignedCheckerReportSchema = z.strictObject({ report: CheckerReportSchema, signature: z.string().max(200) });
export type SignedCheckerReport = z.infer<typeof SignedCheckerReportSchema>;

/** The nonce of the probe handed to `licenseId` for `nodeId`: 128 bits of a MAC under the epoch's seed. */
export const assignedNonce = (seed: Buffer, licenseId: string, nodeId: string, issuedAt: number): string =>
  createHmac('sha256', seed).update(`gpupool-assigned-probe-v1\n${licenseId}\n${nodeId}\n${issuedAt}`).digest().subarray(0, 16).toString('base64url');

/** The epoch a time falls in, and its bounds. */
export const networkEpochOf = (at: number, epochMs: number) => Math.floor(at / epochMs);
export const epochStart = (epoch: number, epochMs: number) => epoch * epochMs;
export const epochEnd = (epoch: number, epochMs: number) => (epoch + 1) * epochMs;
/** after an epoch ends its reports are still taken (as late) this long; then it may be closed */
export const graceMs = (epochMs: number) => Math.min(60_000, Math.floor(epochMs / 5));

/** Why a report of `epoch` at `now` is refused for its timing, or whether it is late. */
export function reportTiming(epoch: number, now: number, epochMs: number): 'future' | 'closed' | 'late' | 'on_time' {
  if (now < epochStart(epoch, epochMs)) return 'future';
  if (now >= epochEnd(epoch, epochMs) + graceMs(epochMs)) return 'closed';
  return now >= epochEnd(epoch, epochMs) ? 'late' : 'on_time';
}
