// The API's answers as the CLI reads them: the response schemas' own types (functions/http/responses, the
// ones the OpenAPI document publishes and the API's tests hold every answer to). Imported as types only,
// so the CLI bundle carries no schema. A command's view (watch.ts JobView, ledger-view.ts, …) picks the
// fields it reads from these; the ones it can do without are optional there, so a test's fake answer (or
// an older server) may leave them out.
import type * as z from 'zod';
import type { AccountSchema, AuditSchema, BalanceSchema, CreatedAccountSchema, EntrySchema, IssuedKeySchema, KeySchema, StakeAnswerSchema, UnstakeAnswerSchema } from '../../functions/http/responses/accounts';
import type { JobSchema } from '../../functions/http/responses/job';
import type { CancelledSchema, FileDetailSchema, FileSchema, LogLineSchema, LogsSchema, OfferSchema, OutputsSchema } from '../../functions/http/responses/jobs';
import type { NodeSchema, ScoresSchema } from '../../functions/http/responses/nodes';
import type { ReplicaSchema, SERVICES_RESPONSES, ServiceSchema } from '../../functions/http/responses/services';

type Out<S extends z.ZodType> = z.output<S>;

export type Job = Out<typeof JobSchema>;
export type Attempt = Job['attempts'][number];
export type Cancelled = Out<typeof CancelledSchema>;
export type LogLine = Out<typeof LogLineSchema>;
export type Logs = Out<typeof LogsSchema>;
export type StoredFile = Out<typeof FileSchema>;
export type FileDetail = Out<typeof FileDetailSchema>['file'];
export type Output = Out<typeof OutputsSchema>['items'][number];
export type Offer = Out<typeof OfferSchema>;

export type Account = Out<typeof AccountSchema>;
export type CreatedAccount = Out<typeof CreatedAccountSchema>;
export type IssuedKey = Out<typeof IssuedKeySchema>;
export type Key = Out<typeof KeySchema>;
export type Balance = Out<typeof BalanceSchema>;
export type StakeAnswer = Out<typeof StakeAnswerSchema>;
export type UnstakeAnswer = Out<typeof UnstakeAnswerSchema>;
export type Entry = Out<typeof EntrySchema>;
export type Audit = Out<typeof AuditSchema>;

export type Node = Out<typeof NodeSchema>;
export type Scores = Out<typeof ScoresSchema>;

export type Service = Out<typeof ServiceSchema>;
export type Replica = Out<typeof ReplicaSchema>;
export type CreatedService = Out<(typeof SERVICES_RESPONSES)['POST /v1/services']>;

/** a list with a cursor (null on the last page) */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** `Pick<T, K>` with the `Opt` fields optional: what a command reads, and what it can do without */
export type View<T, K extends keyof T, Opt extends keyof T = never> = Pick<T, K> & Partial<Pick<T, Opt>>;
