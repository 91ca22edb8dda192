// What goes over the wire. Request bodies are the API's own zod schemas (functions/domain/schemas.ts) as a
// caller writes them (z.input: defaults may be left out); a job is what the API's jobView makes of one.
// The other answers are written out here, from docs/api.md: fields a newer server adds are kept, not typed.
import type { z } from 'zod';
import type { jobView } from '../functions/domain/job/view';
import type { Node as StoredNode, Role } from '../functions/domain/model';
import type { CreateAccountSchema, ListQuerySchema, LogsQuerySchema, MintSchema, PatchNodeSchema, StakeSchema, SubmitJobSchema } from '../functions/domain/schemas';

export type { Role };

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
export type Job = ReturnType<typeof jobView> & { [field: string]: unknown };
export type JobStatus = Job['status'];
/** A node as the API shows it (GET /v1/nodes[/{id}]). */
export type Node = Omit<StoredNode, 'queueUrl'> & { queueUrl?: string; [field: string]: unknown };

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Balance {
  accountId: string;
  role: Role;
  /** micro-credits (1 credit = 1,000,000) */
  available: number;
  held: number;
  staked: number;
  stakeFree?: number;
  stakeLocked?: number;
  unbonding?: number;
  symbol?: string;
  [field: string]: unknown;
}

export interface LogLine {
  seq: number;
  attempt?: number;
  stream: 'stdout' | 'stderr' | 'system' | string;
  text: string;
  ts: number;
}

export interface LogsPage {
  items: LogLine[];
  /** the highest seq stored so far */
  last: number;
}

export interface Offer {
  gpuModel: string;
  vramGb: number;
  region: string;
  runtime: 'docker' | 'process';
  nodes: number;
  freeGpus: number;
  minPricePerGpuHour: number;
  medianPricePerGpuHour: number;
  medianReputation: number;
  imageCachedNodes?: number;
  [field: string]: unknown;
}

export interface Account {
  id: string;
  name: string;
  role: Role;
  [field: string]: unknown;
}

/** POST /v1/accounts and POST /v1/accounts/{id}/keys: the key is shown once (a replay shows null). */
export interface KeyAnswer {
  keyId: string;
  /** POST /v1/accounts only: the new account */
  account?: Account;
  apiKey: string | null;
  secretShownOnce?: boolean;
  [field: string]: unknown;
}

export interface MintAnswer {
  accountId: string;
  available: number;
  held: number;
  staked: number;
}
