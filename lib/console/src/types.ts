// The API's answers the console reads: the response schemas' own types (functions/http/responses, the
// ones the OpenAPI document publishes and the answer test holds every answer to), so the console is
// compiled against what the API says it answers. Imported as types only: the bundle gains no zod and no
// server code (test/lib/console-bundle.test.ts). Fields a later server added (a job's queue and `after`, a
// node's earnings) are optional in the schemas themselves, and the views show '–' where one is absent, so
// an older control plane still renders.
import type * as z from 'zod';
import type { BalanceSchema } from '../../../functions/http/responses/accounts';
import type { JobSchema } from '../../../functions/http/responses/job';
import type { LogLineSchema } from '../../../functions/http/responses/jobs';
import type { NodeSchema, ScoresSchema } from '../../../functions/http/responses/nodes';
import type { ReplicaSchema, SERVICES_RESPONSES, ServiceSchema } from '../../../functions/http/responses/services';

type Out<S extends z.ZodType> = z.output<S>;

/** GET /v1/balance */
export type Balance = Out<typeof BalanceSchema>;
export type Role = Balance['role'];

/** GET /v1/jobs/{id} `job`, and the items of GET /v1/jobs */
export type Job = Out<typeof JobSchema>;
export type Attempt = Job['attempts'][number];

/** an item of GET /v1/jobs/{id}/logs */
export type LogLine = Out<typeof LogLineSchema>;

/** GET /v1/nodes/{id} `node`, and the items of GET /v1/nodes */
export type PoolNode = Out<typeof NodeSchema>;

/** GET /v1/nodes/{id}/scores */
export type Scores = Out<typeof ScoresSchema>;
/** a probe, canary or verification result: only a probe has a round trip */
export type ScoreRow = Scores['items'][number];

/** the lists with a cursor that is null on the last page (GET /v1/jobs, GET /v1/nodes) */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const FINAL_JOB_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

/** GET /v1/services/{id} `service`: its replicas are on a single service's answer only */
export type Service = Out<typeof ServiceSchema>;
export type ServiceReplica = Out<typeof ReplicaSchema>;
/** GET /v1/services: items without their replicas, and no nextCursor on the last page */
export type ServicesPage = Out<(typeof SERVICES_RESPONSES)['GET /v1/services']>;
