// The response schemas (functions/http/responses) against the types of what the use cases return, at
// compile time (`npm test` runs tsc first): a producer that starts returning a field of another type, or
// stops returning a documented required field, fails here before any answer is made. A field the schema
// does not name fails the answer check of the test client (test/helpers/answer-schemas.ts).
import { describe, expect, it } from 'vitest';
import type * as z from 'zod';
import type { jobView } from '../../functions/domain/job/view';
import type { ResumingAttempt } from '../../functions/domain/files/resume';
import type { ServiceView } from '../../functions/domain/service/view';
import type { Proposal } from '../../functions/domain/governance/proposals';
import type { balance, statement, stake, unstake, auditLedger } from '../../functions/usecases/ledger';
import type { createAccount, getAccount, issueKey, listKeys } from '../../functions/usecases/accounts';
import type { getAccountLimits } from '../../functions/usecases/account-limits';
import type { getWebhookSecret } from '../../functions/usecases/webhooks';
import type { deliveriesOf } from '../../functions/usecases/webhooks';
import type { verificationView } from '../../functions/usecases/verification';
import type { queueView } from '../../functions/usecases/queue-position';
import type { createFile, listOutputs, checkpoint, grantOutputs } from '../../functions/usecases/files';
import type { getFile, listFiles } from '../../functions/usecases/file-library';
import type { offers } from '../../functions/usecases/offers';
import type { setSecret, listSecrets } from '../../functions/usecases/secrets';
import type { nodeView } from '../../functions/usecases/nodes';
import type { nodeScores } from '../../functions/usecases/checker-scores';
import type { listBurst } from '../../functions/usecases/burst-view';
import type { LicenseView, getLicense, mintLicenses } from '../../functions/usecases/licenses';
import type { castVote, parametersView } from '../../functions/usecases/governance';
import type { listCheckers, myAssignments, registerChecker, submitReport } from '../../functions/usecases/checker-network';
import type { appendLogs, finishAttempt, heartbeat, startAttempt } from '../../functions/usecases/agent';
import type { AccountSchema, AccountLimitsSchema, AuditSchema, BalanceSchema, CreatedAccountSchema, EntrySchema, IssuedKeySchema, KeySchema, StakeAnswerSchema, UnstakeAnswerSchema, WebhookSecretSchema } from '../../functions/http/responses/accounts';
import type { JobSchema } from '../../functions/http/responses/job';
import type { CreatedFileSchema, FileDetailSchema, FileSchema, OfferSchema, OutputsSchema } from '../../functions/http/responses/jobs';
import type { SecretSchema } from '../../functions/http/responses/secrets';
import type { ServiceSchema } from '../../functions/http/responses/services';
import type { BurstInstanceSchema, NodeSchema, ScoresSchema } from '../../functions/http/responses/nodes';
import type { AssignmentsSchema, CheckerSchema, GOVERNANCE_RESPONSES, LicenseSchema, ParametersSchema, ProposalSchema, ReportAnswerSchema, VoteSchema } from '../../functions/http/responses/governance';
import type { AGENT_RESPONSES } from '../../functions/http/responses/agent';
import type { JobView, LogItem } from '../../bin/cli/watch';
import type { AuditView, BalanceView, EntryView } from '../../bin/cli/ledger-view';
import type { ServiceView as CliServiceView } from '../../bin/cli/commands/services';
import type { Offer } from '../../bin/cli/commands/offers';
import type { OutputItem } from '../../bin/cli/files';
import type { LogLineSchema } from '../../functions/http/responses/jobs';

type Out<S extends z.ZodType> = z.output<S>;
type Ret<F extends (...a: never[]) => unknown> = Awaited<ReturnType<F>>;
type Job = Out<typeof JobSchema>;
/** compiles only when A is assignable to B; tsc names the field that is not */
type Fits<A extends B, B> = A;

describe('response schemas fit what the use cases return (compile time)', () => {
  it('accounts', () => {
    expect(true).toBe(true); // the checks are the types below: tsc --noEmit
    type _1 = Fits<Ret<typeof getAccount>, Out<typeof AccountSchema>>;
    type _2 = Fits<Omit<Ret<typeof createAccount>, 'account'>, Omit<Out<typeof CreatedAccountSchema>, 'account'>>;
    type _3 = Fits<Ret<typeof issueKey>, Out<typeof IssuedKeySchema>>;
    type _4 = Fits<Ret<typeof listKeys>[number], Out<typeof KeySchema>>;
    type _5 = Fits<Ret<typeof getWebhookSecret>, Out<typeof WebhookSecretSchema>>;
    // `set` is built with Object.fromEntries (keys typed string): the answer check holds it to the four names
    type _6 = Fits<Omit<Ret<typeof getAccountLimits>, 'set'>, Omit<Out<typeof AccountLimitsSchema>, 'set'>>;
    type _7 = Fits<Ret<typeof balance>, Omit<Out<typeof BalanceSchema>, 'accountId' | 'role'>>;
    type _8 = Fits<Ret<typeof stake>, Out<typeof StakeAnswerSchema>>;
    type _9 = Fits<Ret<typeof unstake>, Out<typeof UnstakeAnswerSchema>>;
    type _10 = Fits<Ret<typeof statement>['items'][number], Out<typeof EntrySchema>>;
    type _11 = Fits<Ret<typeof auditLedger>, Out<typeof AuditSchema>>;
  });

  it('jobs, files, offers, secrets', () => {
    expect(true).toBe(true); // the checks are the types below: tsc --noEmit
    type _12 = Fits<ReturnType<typeof jobView>, Job>;
    // an attempt that started from a checkpoint carries resumedFrom (a field the Attempt type leaves out)
    type _12b = Fits<Omit<ResumingAttempt, 'providerId'>, Job['attempts'][number]>;
    // the stored verdict's status is typed string: the answer check holds it to VERIFICATION_STATUSES
    type _13 = Fits<Omit<NonNullable<Ret<typeof verificationView>>, 'status'>, Omit<NonNullable<Job['verification']>, 'status'>>;
    type _14 = Fits<NonNullable<Ret<typeof queueView>>, NonNullable<Job['queue']>>;
    type _15 = Fits<NonNullable<Ret<typeof deliveriesOf>>, NonNullable<NonNullable<Job['webhook']>['deliveries']>>;
    type _16 = Fits<Ret<typeof createFile>, Out<typeof CreatedFileSchema>>;
    type _17 = Fits<Ret<typeof listFiles>['items'][number], Out<typeof FileSchema>>;
    type _18 = Fits<{ file: Ret<typeof getFile> }, Out<typeof FileDetailSchema>>;
    type _19 = Fits<Ret<typeof listOutputs>, Out<typeof OutputsSchema>>;
    type _20 = Fits<Ret<typeof offers>[number], Out<typeof OfferSchema>>;
    type _21 = Fits<Ret<typeof setSecret>, Out<typeof SecretSchema>>;
    type _22 = Fits<Ret<typeof listSecrets>[number], Out<typeof SecretSchema>>;
  });

  it('services', () => {
    expect(true).toBe(true); // the checks are the types below: tsc --noEmit
    type _23 = Fits<ServiceView, Out<typeof ServiceSchema>>;
  });

  it('nodes and burst', () => {
    expect(true).toBe(true); // the checks are the types below: tsc --noEmit
    type _24 = Fits<ReturnType<typeof nodeView>, Out<typeof NodeSchema>>;
    type _25 = Fits<Ret<typeof nodeScores>, Out<typeof ScoresSchema>>;
    type _26 = Fits<Ret<typeof listBurst>['items'][number], Out<typeof BurstInstanceSchema>>;
  });

  it('governance and the checker network', () => {
    expect(true).toBe(true); // the checks are the types below: tsc --noEmit
    type _27 = Fits<LicenseView, Out<typeof LicenseSchema>>;
    type _28 = Fits<Ret<typeof getLicense>, Out<(typeof GOVERNANCE_RESPONSES)['GET /v1/licenses/{id}']>>;
    type _29 = Fits<Ret<typeof mintLicenses>, Out<(typeof GOVERNANCE_RESPONSES)['POST /v1/licenses']>>;
    type _30 = Fits<Proposal, Out<typeof ProposalSchema>>;
    type _31 = Fits<Ret<typeof castVote>['vote'], Out<typeof VoteSchema>>;
    type _32 = Fits<Ret<typeof parametersView>, Out<typeof ParametersSchema>>;
    type _33 = Fits<Ret<typeof registerChecker>['checker'], Out<typeof CheckerSchema>>;
    type _34 = Fits<Ret<typeof listCheckers>['items'][number], Out<typeof CheckerSchema>>;
    type _35 = Fits<Ret<typeof myAssignments>, Out<typeof AssignmentsSchema>>;
    type _36 = Fits<Ret<typeof submitReport>, Out<typeof ReportAnswerSchema>>;
  });

  it('the agent protocol', () => {
    expect(true).toBe(true); // the checks are the types below: tsc --noEmit
    type _37 = Fits<Ret<typeof heartbeat>, Out<(typeof AGENT_RESPONSES)['POST /v1/agent/heartbeat']>>;
    type _38 = Fits<Ret<typeof startAttempt>, Out<(typeof AGENT_RESPONSES)['POST /v1/agent/jobs/{id}/start']>>;
    type _39 = Fits<Ret<typeof appendLogs>, Out<(typeof AGENT_RESPONSES)['POST /v1/agent/jobs/{id}/logs']>>;
    type _40 = Fits<Ret<typeof finishAttempt>, Out<(typeof AGENT_RESPONSES)['POST /v1/agent/jobs/{id}/finish']>>;
    type _41 = Fits<Ret<typeof grantOutputs>, Out<(typeof AGENT_RESPONSES)['POST /v1/agent/jobs/{id}/outputs']>>;
    type _42 = Fits<Ret<typeof checkpoint>, Out<(typeof AGENT_RESPONSES)['POST /v1/agent/jobs/{id}/checkpoint']>>;
  });

  it('the CLI reads what the API answers (its own types of the answers it uses)', () => {
    expect(true).toBe(true);
    type _c1 = Fits<Job, JobView>;
    type _c2 = Fits<Out<typeof LogLineSchema>, LogItem>;
    type _c3 = Fits<Out<typeof BalanceSchema>, BalanceView>;
    type _c4 = Fits<Out<typeof EntrySchema>, EntryView>;
    type _c5 = Fits<Out<typeof AuditSchema>, AuditView>;
    type _c6 = Fits<Out<typeof ServiceSchema>, CliServiceView>;
    type _c7 = Fits<Out<typeof OfferSchema>, Offer>;
    type _c8 = Fits<Out<typeof OutputsSchema>['items'][number], OutputItem>;
  });
});
