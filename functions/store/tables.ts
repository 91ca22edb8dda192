// Table and index definitions as plain data: the CDK construct (lib/) and the local stack's table
// creator both read them, so AWS and DynamoDB Local always have the same keys and indexes.
// docs/data-model.md explains the access pattern each one serves.

export type AttrType = 'S' | 'N';
export interface KeyDef {
  name: string;
  type: AttrType;
}
export interface IndexDef {
  name: string;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
}
export interface TableDef {
  /** logical name: the env var is TABLE_<UPPER>, the CDK id is <Pascal>Table */
  id: 'accounts' | 'keys' | 'nodes' | 'jobs' | 'logs' | 'idempotency' | 'scores' | 'ledger' | 'webhooks' | 'burst' | 'secrets' | 'governance' | 'services' | 'files';
  partitionKey: KeyDef;
  sortKey?: KeyDef;
  indexes: IndexDef[];
  /** attribute holding an epoch-seconds expiry */
  ttlAttribute?: string;
  /** a DynamoDB Stream of every change, both images: the webhooks function reacts to jobs that end */
  stream?: 'NEW_AND_OLD_IMAGES';
}

/** Queue, liveness and deadline indexes are spread over this many partitions so no item is hot. */
export const SHARDS = 8;

export const TABLES: readonly TableDef[] = [
  { id: 'accounts', partitionKey: { name: 'id', type: 'S' }, indexes: [] },
  {
    id: 'keys',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [{ name: 'byAccount', partitionKey: { name: 'accountId', type: 'S' }, sortKey: { name: 'createdAt', type: 'N' } }],
  },
  {
    id: 'nodes',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [
      { name: 'byProvider', partitionKey: { name: 'providerId', type: 'S' }, sortKey: { name: 'createdAt', type: 'N' } },
      // sparse: only nodes that can take work now; partition `<model>#<shard>`, cheapest first
      { name: 'available', partitionKey: { name: 'availKey', type: 'S' }, sortKey: { name: 'pricePerGpuHour', type: 'N' } },
      // sparse, same members as `available` but partitioned by shard only: for jobs that accept any model
      { name: 'availableAny', partitionKey: { name: 'availAnyKey', type: 'S' }, sortKey: { name: 'pricePerGpuHour', type: 'N' } },
      // sparse: nodes that must keep heartbeating; the reaper reads those whose deadline passed
      { name: 'liveness', partitionKey: { name: 'livenessShard', type: 'S' }, sortKey: { name: 'heartbeatDeadline', type: 'N' } },
    ],
  },
  {
    id: 'jobs',
    partitionKey: { name: 'id', type: 'S' },
    stream: 'NEW_AND_OLD_IMAGES',
    indexes: [
      { name: 'byAccount', partitionKey: { name: 'accountId', type: 'S' }, sortKey: { name: 'createdAt', type: 'N' } },
      // sparse: QUEUED jobs only; sort key orders by priority, then age
      { name: 'queued', partitionKey: { name: 'queueShard', type: 'S' }, sortKey: { name: 'queueOrder', type: 'S' } },
      // sparse: each account's QUEUED jobs (`acct#<id>`, same order) and the markers of accounts that have
      // some (`qa`, by account id): the sweep's fair share reads these (docs/scheduling.md)
      { name: 'queuedByAccount', partitionKey: { name: 'queueAccount', type: 'S' }, sortKey: { name: 'queueOrder', type: 'S' } },
      // sparse: ASSIGNED/RUNNING jobs by the time they must have moved on (dispatch ack or max duration)
      { name: 'active', partitionKey: { name: 'activeShard', type: 'S' }, sortKey: { name: 'deadlineAt', type: 'N' } },
      // sparse: live attempts per node, for the reaper and the agent's session answer
      { name: 'liveByNode', partitionKey: { name: 'liveNodeId', type: 'S' }, sortKey: { name: 'createdAt', type: 'N' } },
    ],
  },
  {
    id: 'logs',
    partitionKey: { name: 'jobId', type: 'S' },
    sortKey: { name: 'seq', type: 'N' },
    indexes: [],
    ttlAttribute: 'expiresAt',
  },
  { id: 'idempotency', partitionKey: { name: 'key', type: 'S' }, indexes: [], ttlAttribute: 'expiresAt' },
  // ledger postings, one item per posting (its entries inside) keyed by the posting's idempotency key;
  // statements read them by the (at most two) user accounts a posting touches, or all system movements
  // (functions/store/ledger-store.ts; balances are on the account items)
  {
    id: 'ledger',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [
      { name: 'byParty1', partitionKey: { name: 'party1', type: 'S' }, sortKey: { name: 'seqKey', type: 'S' } },
      { name: 'byParty2', partitionKey: { name: 'party2', type: 'S' }, sortKey: { name: 'seqKey', type: 'S' } },
      { name: 'bySystem', partitionKey: { name: 'sysParty', type: 'S' }, sortKey: { name: 'seqKey', type: 'S' } },
    ],
  },
  // checker results per node (and the checker's rewards and pending canaries): functions/store/scores-store.ts
  { id: 'scores', partitionKey: { name: 'nodeId', type: 'S' }, sortKey: { name: 'at', type: 'N' }, indexes: [], ttlAttribute: 'expiresAt' },
  // webhook delivery attempts per job (`job#<id>` / `attempt#<n>`) and each account's signing secret
  // (`secret#<accountId>` / `secret`): functions/store/webhooks-store.ts
  { id: 'webhooks', partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'S' }, indexes: [], ttlAttribute: 'expiresAt' },
  // burst EC2 instances (one item per launch) and their limit, budget and lease counters: functions/store/burst-store.ts
  { id: 'burst', partitionKey: { name: 'id', type: 'S' }, indexes: [], ttlAttribute: 'expiresAt' },
  // each account's secrets, sealed (never a plain value) and its count: functions/store/secrets-store.ts
  { id: 'secrets', partitionKey: { name: 'accountId', type: 'S' }, sortKey: { name: 'name', type: 'S' }, indexes: [] },
  // checker licenses (and their history), proposals, votes and the parameters enacted: functions/store/governance-store.ts
  {
    id: 'governance',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    indexes: [
      // a license by who holds it and by who operates it (GET /v1/licenses)
      { name: 'licensesByOwner', partitionKey: { name: 'ownerId', type: 'S' }, sortKey: { name: 'pk', type: 'S' } },
      { name: 'licensesByOperator', partitionKey: { name: 'operatorId', type: 'S' }, sortKey: { name: 'pk', type: 'S' } },
      // sparse: open proposals by the end of their window, passed ones by their enactment time
      { name: 'pending', partitionKey: { name: 'pendingKey', type: 'S' }, sortKey: { name: 'dueAt', type: 'N' } },
    ],
  },
  // each account's uploaded files (`accountId` / `id`, newest first: ids are ulids) and which submits named
  // them as inputs, so a delete cannot pull a file from under a waiting job: functions/store/file-items-store.ts
  { id: 'files', partitionKey: { name: 'accountId', type: 'S' }, sortKey: { name: 'id', type: 'S' }, indexes: [], ttlAttribute: 'expiresAt' },
  // services (functions/domain/service/model.ts); their replicas are jobs. The reconciler reads the
  // services not yet DELETED from the sparse `active` index (docs/services.md)
  {
    id: 'services',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [
      { name: 'byAccount', partitionKey: { name: 'accountId', type: 'S' }, sortKey: { name: 'createdAt', type: 'N' } },
      { name: 'active', partitionKey: { name: 'activeShard', type: 'S' }, sortKey: { name: 'id', type: 'S' } },
    ],
  },
];

export type TableId = TableDef['id'];
export const tableEnvVar = (id: TableId) => `TABLE_${id.toUpperCase()}`;
export type TableNames = Record<TableId, string>;

/**
 * Reads the table names handed to a function through its environment. A function is given only the tables
 * it may use (lib/stacks/control-plane-stack.ts TABLE_GRANTS); the name of any other is a marker that no
 * table has, so a use of it fails at once, naming the variable, instead of reaching a table by accident.
 */
export function tableNamesFromEnv(env: NodeJS.ProcessEnv = process.env): TableNames {
  const names = {} as TableNames;
  for (const t of TABLES) names[t.id] = env[tableEnvVar(t.id)] || unsetTable(t.id);
  return names;
}

/** What a store holds for a table its function was not given: not a valid table name, so DynamoDB refuses any use of it. */
export const unsetTable = (id: TableId) => `<${tableEnvVar(id)} not given to this function>`;
