// Request bodies of the license and governance routes (docs/governance.md, docs/checkers.md).
import * as z from 'zod';
import { IdSchema } from '../schemas';
import { MAX_MINT_PER_REQUEST } from './licenses';

const Bps = z.number().int().min(0).max(10_000);

export const MintLicensesSchema = z.strictObject({
  account: IdSchema,
  count: z.number().int().min(1).max(MAX_MINT_PER_REQUEST),
});

export const TransferLicenseSchema = z.strictObject({ to: IdSchema });

/** an admin's reinstatement of a suspended license: why, for its history (the audit record) */
export const ReinstateLicenseSchema = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });

/** operator null ends the delegation */
export const DelegateLicenseSchema = z.strictObject({
  operator: IdSchema.nullable(),
  rewardShareBps: Bps.default(0),
});

// integers here; the deployment's bounds are checked by the use case (domain/governance/parameters.ts)
const Value = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const ProposalChangesSchema = z.strictObject({
  feeBps: Value.optional(),
  rewardShareBps: Value.optional(),
  minStakePerGpu: Value.optional(),
  slashBps: Value.optional(),
  checkerQuorum: Value.optional(),
});

export const CreateProposalSchema = z.strictObject({
  title: z.string().trim().min(1).max(200),
  changes: ProposalChangesSchema,
  votingSeconds: z.number().int().min(1).max(365 * 24 * 3600),
});

export const VoteSchema = z.strictObject({ choice: z.enum(['yes', 'no']) });
