// What goes over the wire, as the API's own schemas say. Request bodies are the API's zod request schemas
// (functions/domain/schemas.ts) as a caller writes them (z.input: defaults may be left out); answers are the
// response schemas (functions/http/responses, the ones the OpenAPI document publishes and the API's tests
// hold every answer to) as the API sends them (z.output). Types only: the client's code imports no zod.
// An answer object may carry fields a newer server added: they are kept, typed `unknown` (Open).
import type { z } from 'zod';
import type { CreateAccountSchema, ListQuerySchema, LogsQuerySchema, MintSchema, PatchNodeSchema, StakeSchema, SubmitJobSchema } from '../functions/domain/schemas';
import type { AccountSchema, BalanceSchema, CreatedAccountSchema, IssuedKeySchema, MintedSchema, StakeAnswerSchema, UnstakeAnswerSchema } from '../functions/http/responses/accounts';
import type { JobSchema } from '../functions/http/responses/job';
import type { CancelledSchema, LogLineSchema, LogsSchema, OfferSchema, SubmittedSchema } from '../functions/http/responses/jobs';
import type { NodeSchema } from '../functions/http/responses/nodes';
import type { PUBLIC_RESPONSES } from '../functions/http/responses/public';

type Out<S extends z.ZodType> = z.output<S>;
/** an answer object: the fields its schema names, and any a newer server adds */
export type Open<T> = T & { [field: string]: unknown };

export type Role = Out<typeof BalanceSchema>['role'];

export type SubmitJobRequest = z.input<typeof SubmitJobSchema>;
export type CreateAccountRequest = z.input<typeof CreateAccountSchema>;
export type MintRequest = z.input<typeof MintSchema>;
export type StakeRequest = z.input<typeof StakeSchema>;
export type PatchNodeRequest = z.input<typeof PatchNodeSchema>;
export type ListQuery = Partial<z.output<typeof ListQuerySchema>>;
export type LogsQuery = Partial<z.output<typeof LogsQuerySchema>>;

/** GET /v1/offers?… (functions/usecases/offers.ts) */
export interface OffersQuery {
  gpuModel?: string;
  gpus?: number;
  region?: string;
  /** micro-credits per GPU-hour */
  maxPrice?: number;
  image?: string;
  cached?: boolean;
}

/** A job as the API shows it (GET /v1/jobs/{id}, POST /v1/jobs, list items). */
export type Job = Open<Out<typeof JobSchema>>;
export type JobStatus = Job['status'];
/** POST /v1/jobs: the job (an array's first member), and for an array its id and members */
export type SubmitAnswer = Open<Omit<Out<typeof SubmittedSchema>, 'job'> & { job: Job }>;
/** DELETE /v1/jobs/{id}: the job, or for an array's id how many members it cancelled */
export type CancelAnswer = Open<Omit<Out<typeof CancelledSchema>, 'job'> & { job?: Job }>;
/** A node as the API shows it (GET /v1/nodes[/{id}]); its queueUrl only to its provider and admins. */
export type Node = Open<Out<typeof NodeSchema>>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** GET /v1/health */
export type Health = Out<(typeof PUBLIC_RESPONSES)['GET /v1/health']>;

/** GET /v1/balance: amounts in micro-credits (1 credit = 1,000,000); `staked` is free and locked stake */
export type Balance = Open<Out<typeof BalanceSchema>>;
/** POST /v1/stake: the caller's balances after it */
export type StakeAnswer = Open<Out<typeof StakeAnswerSchema>>;
/** POST /v1/unstake: the balances after it, and when the unstaked credits are available again */
export type UnstakeAnswer = Open<Out<typeof UnstakeAnswerSchema>>;

export type LogLine = Out<typeof LogLineSchema>;
/** GET /v1/jobs/{id}/logs: `last` is the highest seq stored so far */
export type LogsPage = Out<typeof LogsSchema>;

export type Offer = Open<Out<typeof OfferSchema>>;

/** GET /v1/accounts/{id}: the account, its balances and the usage counters its limits are kept with */
export type Account = Open<Out<typeof AccountSchema>>;

/** POST /v1/accounts: the new account and its first key, shown once (a replay shows null) */
export type CreatedAccount = Open<Out<typeof CreatedAccountSchema>>;
/** POST /v1/accounts/{id}/keys: the key is shown once (a replay shows null) */
export type IssuedKey = Open<Out<typeof IssuedKeySchema>>;
/** either answer that shows a key once */
export type KeyAnswer = CreatedAccount | IssuedKey;

/** POST /v1/accounts/{id}/credits */
export type MintAnswer = Out<typeof MintedSchema>;
