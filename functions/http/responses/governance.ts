// What the governance group answers: licenses, proposals and votes, parameters, the checker network.
import * as z from 'zod';
import { GOVERNED } from '../../domain/governance/parameters';
import { Id, Millis, page } from './common';

const LicenseStatus = z.enum(['active', 'suspended']);
export const LicenseSchema = z.object({
  id: Id,
  owner: Id,
  operator: Id.nullable(),
  rewardShareBps: z.number().int(),
  status: LicenseStatus,
  mintedAt: Millis,
  ownerSince: Millis,
  since: Millis,
  role: z.enum(['owner', 'operator']).optional().describe('what the caller is to it'),
});
const LicensePeriodSchema = z.object({
  licenseId: Id,
  seq: z.number().int(),
  ownerId: Id,
  operatorId: Id.optional(),
  rewardShareBps: z.number().int(),
  status: LicenseStatus,
  from: Millis,
  to: Millis.optional(),
  change: z.enum(['mint', 'transfer', 'delegate', 'undelegate', 'suspend', 'reinstate']),
  by: z.string(),
  reason: z.string().optional().describe("why, when given (an admin's reinstatement)"),
});

const Values = z.object(Object.fromEntries(GOVERNED.map((k) => [k, z.number()])) as Record<(typeof GOVERNED)[number], z.ZodNumber>);
const Changes = Values.partial();
export const ProposalSchema = z.object({
  id: Id,
  title: z.string(),
  changes: Changes,
  proposerId: Id,
  createdAt: Millis,
  votingEndsAt: Millis,
  enactAfter: Millis,
  status: z.enum(['open', 'passed', 'rejected', 'enacted', 'vetoed']),
  tally: z.object({ yes: z.number(), no: z.number(), voters: z.number().int() }),
  quorumVotes: z.number(),
  thresholdBps: z.number().int(),
  closedAt: Millis.optional(),
  enactedAt: Millis.optional(),
  vetoedAt: Millis.optional(),
  yourVote: z.object({ choice: z.enum(['yes', 'no']), weight: z.number() }).optional().describe("the caller's own vote, when it voted"),
});
export const VoteSchema = z.object({
  proposalId: Id,
  choice: z.enum(['yes', 'no']),
  weight: z.number(),
  stakeVotes: z.number(),
  licenseVotes: z.number(),
  at: Millis,
});

export const ParametersSchema = z.object({
  parameters: Values.describe('in force'),
  deployment: Values.describe("the deployment's, before enacted changes"),
  bounds: z.object(Object.fromEntries(GOVERNED.map((k) => [k, z.object({ min: z.number(), max: z.number() })])) as Record<(typeof GOVERNED)[number], z.ZodObject<{ min: z.ZodNumber; max: z.ZodNumber }>>),
  version: z.number().int(),
  updatedAt: Millis.nullable(),
  enactments: z.array(z.object({ proposalId: Id, at: Millis, changes: Changes, before: Changes, after: Changes })),
});

export const CheckerSchema = z.object({
  licenseId: Id,
  accountId: Id,
  publicKey: z.string(),
  registeredAt: Millis,
  standing: z.number(),
  strikes: z.number().int(),
  scoredEpoch: z.number().int().nullable(),
  licenseStatus: z.string().optional(),
});
export const AssignmentsSchema = z.object({
  epoch: z.number().int(),
  startsAt: Millis,
  endsAt: Millis,
  reportBy: Millis,
  k: z.number().int().describe('checkers per node'),
  checkers: z.array(Id).describe("the caller's checkers (license ids) in this epoch's roster"),
  items: z.array(
    z.object({
      licenseId: Id,
      nodeId: Id,
      probeUrl: z.string(),
      probe: z.object({ probe: z.object({ nodeId: Id, nonce: z.string(), issuedAt: Millis }), signature: z.string() }).describe('signed by the control plane'),
    }),
  ),
});
export const ReportAnswerSchema = z.object({
  report: z.object({ epoch: z.number().int(), nodeId: Id, licenseId: Id, ok: z.boolean(), rttMs: z.number().optional(), reason: z.string().optional(), late: z.boolean(), at: Millis }),
  reportBy: Millis,
});

export const GOVERNANCE_RESPONSES = {
  'POST /v1/licenses': z.object({ items: z.array(LicenseSchema), supply: z.number().int().describe('licenses minted in all') }),
  'GET /v1/licenses': page(LicenseSchema),
  'GET /v1/licenses/{id}': z.object({ license: LicenseSchema, history: z.array(LicensePeriodSchema) }),
  'POST /v1/licenses/{id}/transfer': z.object({ license: LicenseSchema }),
  'POST /v1/licenses/{id}/delegate': z.object({ license: LicenseSchema }),
  'POST /v1/licenses/{id}/reinstate': z.object({ license: LicenseSchema, history: z.array(LicensePeriodSchema) }),
  'POST /v1/proposals': z.object({ proposal: ProposalSchema }),
  'GET /v1/proposals/{id}': z.object({ proposal: ProposalSchema }),
  'POST /v1/proposals/{id}/votes': z.object({ vote: VoteSchema }),
  'POST /v1/proposals/{id}/veto': z.object({ proposal: ProposalSchema }),
  'GET /v1/parameters': ParametersSchema,
  'POST /v1/checkers': z.object({ checker: CheckerSchema, firstEpoch: z.number().int().describe('the first epoch it is assigned nodes in') }),
  'GET /v1/checkers': page(CheckerSchema),
  'GET /v1/checkers/assignments': AssignmentsSchema,
  'POST /v1/checkers/reports': ReportAnswerSchema,
} as const;
