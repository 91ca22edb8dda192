// What the accounts group answers: accounts, keys, credits, limits, balances, the ledger, stake.
import * as z from 'zod';
import { BUCKETS, ENTRY_KINDS } from '../../domain/ledger/model';
import { Id, Micro, Millis, page } from './common';

const AccountRole = z.enum(['admin', 'consumer', 'provider']);

/** an account as stored: balances, and the usage counters the limits are kept with (docs/scheduling.md) */
export const AccountSchema = z.object({
  id: Id,
  name: z.string(),
  role: AccountRole,
  createdAt: Millis,
  available: Micro,
  held: Micro,
  staked: Micro.describe('free stake, micro-credits'),
  locked: Micro.optional().describe('stake locked for nodes'),
  unbonding: Micro.optional(),
  queuedJobs: z.number().int().optional(),
  gpusInUse: z.number().int().optional(),
  spendDay: z.string().optional(),
  spentToday: Micro.optional(),
  limits: z.record(z.string(), z.number().nullable()).optional().describe('limits an admin set (GET /v1/accounts/{id}/limits shows those in force)'),
  limitsVersion: z.number().int().optional(),
});

export const CreatedAccountSchema = z.object({
  account: AccountSchema,
  apiKey: z.string().nullable().describe('shown once; null in an idempotent replay'),
  keyId: z.string(),
  secretShownOnce: z.literal(true).optional().describe('set in an idempotent replay: the key was in the first answer'),
});

export const IssuedKeySchema = z.object({
  keyId: z.string(),
  apiKey: z.string().nullable().describe('shown once; null in an idempotent replay'),
  createdAt: Millis,
  secretShownOnce: z.literal(true).optional(),
});

export const KeySchema = z.object({
  keyId: z.string(),
  role: z.enum(['admin', 'consumer', 'provider', 'node']),
  nodeId: z.string().nullable(),
  createdAt: Millis,
  lastUsedAt: Millis.nullable(),
  revokedAt: Millis.nullable(),
});

export const WebhookSecretSchema = z.object({
  accountId: Id,
  secret: z.string(),
  createdAt: Millis,
  rotatedAt: Millis.nullable(),
  previousValidUntil: Millis.nullable().describe('while in the future, deliveries are signed with the previous secret too'),
});

export const MintedSchema = z.object({ accountId: Id, available: Micro, held: Micro, staked: Micro });

const LimitValues = z.object({ maxPriority: z.number(), maxQueuedJobs: z.number(), maxGpus: z.number(), maxSpendPerDay: Micro.nullable() });
export const AccountLimitsSchema = z.object({
  accountId: Id,
  limits: LimitValues,
  set: z.object({ maxPriority: z.boolean(), maxQueuedJobs: z.boolean(), maxGpus: z.boolean(), maxSpendPerDay: z.boolean() }).describe('which limits an admin set; the others are the defaults'),
  usage: z.object({ queuedJobs: z.number().int(), gpusInUse: z.number().int(), spentToday: Micro, day: z.string() }),
  symbol: z.string(),
});

const BalanceFields = {
  available: Micro,
  held: Micro,
  staked: Micro.describe('all stake: free and locked'),
  stakeFree: Micro,
  stakeLocked: Micro,
  unbonding: Micro,
  symbol: z.string(),
};
export const BalanceSchema = z.object({ accountId: Id, role: AccountRole, ...BalanceFields });
export const StakeAnswerSchema = z.object(BalanceFields);
export const UnstakeAnswerSchema = z.object({ ...BalanceFields, releaseAt: Millis.describe('when the unstaked credits are available again') });

const Bucket = z.enum(BUCKETS);
const Side = z.object({ account: z.string(), bucket: Bucket });
const Buckets = z.object({ available: Micro, held: Micro, staked: Micro, locked: Micro, unbonding: Micro });
export const EntrySchema = z.object({
  id: z.string(),
  at: Millis,
  kind: z.enum(ENTRY_KINDS),
  amount: Micro,
  debit: Side.describe("another tenant's account shows as its role (consumer, provider): a tenant sees only its own id"),
  credit: Side,
  cause: z.object({
    jobId: z.string().optional(),
    attempt: z.number().int().optional(),
    nodeId: z.string().optional(),
    consumerId: z.string().optional(),
    paid: Micro.optional(),
    releaseAt: Millis.optional(),
    evidence: z.string().optional(),
    memo: z.string().optional(),
  }),
  change: Buckets.partial().describe('what the entry changed on this account'),
  balanceAfter: Buckets,
});

const Difference = z.object({ account: z.string(), bucket: Bucket, expected: z.number(), actual: z.number() });
export const AuditSchema = z.object({
  ok: z.boolean(),
  differences: z.array(Difference),
  totalMinted: Micro,
  totalSupply: Micro,
  entries: z.number().int(),
  accounts: z.number().int(),
  duplicates: z.array(z.string()),
  negative: z.array(Difference),
  symbol: z.string(),
});

export const ACCOUNTS_RESPONSES = {
  'POST /v1/accounts': CreatedAccountSchema,
  'GET /v1/accounts/{id}': AccountSchema,
  'POST /v1/accounts/{id}/keys': IssuedKeySchema,
  'GET /v1/accounts/{id}/keys': page(KeySchema),
  'GET /v1/accounts/{id}/webhook-secret': WebhookSecretSchema,
  'POST /v1/accounts/{id}/webhook-secret': WebhookSecretSchema,
  'POST /v1/accounts/{id}/credits': MintedSchema,
  'GET /v1/accounts/{id}/limits': AccountLimitsSchema,
  'PATCH /v1/accounts/{id}/limits': AccountLimitsSchema,
  'GET /v1/balance': BalanceSchema,
  'GET /v1/accounts/{id}/entries': page(EntrySchema),
  'GET /v1/ledger/audit': AuditSchema,
  'POST /v1/stake': StakeAnswerSchema,
  'POST /v1/unstake': UnstakeAnswerSchema,
} as const;
