// Creates the tables of functions/store/tables.ts in DynamoDB Local: the same keys and indexes as the
// CDK stack, so the code under test sees what it sees on AWS. Idempotent, and it brings a table kept
// under .gpupool/ from an older checkout up to date (missing indexes, TTL), since that data outlives code.
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { TABLES, type IndexDef, type KeyDef, type TableDef, type TableNames } from '../../functions/store/tables';

/** `${prefix}${id}` for every table, e.g. tableNamesFor('gpupool-').jobs === 'gpupool-jobs'. */
export function tableNamesFor(prefix: string): TableNames {
  return Object.fromEntries(TABLES.map((t) => [t.id, `${prefix}${t.id}`])) as TableNames;
}

const keySchema = (pk: KeyDef, sk?: KeyDef) => [
  { AttributeName: pk.name, KeyType: 'HASH' as const },
  ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
];

const gsi = (i: IndexDef): GlobalSecondaryIndex => ({
  IndexName: i.name,
  KeySchema: keySchema(i.partitionKey, i.sortKey),
  Projection: { ProjectionType: 'ALL' },
});

function attributes(keys: (KeyDef | undefined)[]): AttributeDefinition[] {
  const attrs = new Map<string, AttributeDefinition>();
  for (const k of keys) if (k) attrs.set(k.name, { AttributeName: k.name, AttributeType: k.type });
  return [...attrs.values()];
}

const isName = (e: unknown, name: string) => (e as Error | undefined)?.name === name;

/**
 * Creates what is missing and waits until every table and index is ACTIVE. New tables are created side by
 * side; indexes added to older tables come after, one table at a time: DynamoDB Local can leave an index
 * added by UpdateTable in CREATING for good when other tables are being created at that moment.
 */
export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  await Promise.all(TABLES.map((t) => createTable(client, t, names[t.id])));
  for (const t of TABLES) await upgradeTable(client, t, names[t.id]);
}

async function createTable(client: DynamoDBClient, t: TableDef, name: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributes([t.partitionKey, t.sortKey, ...t.indexes.flatMap((i) => [i.partitionKey, i.sortKey])]),
        KeySchema: keySchema(t.partitionKey, t.sortKey),
        ...(t.indexes.length ? { GlobalSecondaryIndexes: t.indexes.map(gsi) } : {}),
        ...(t.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: t.stream } } : {}),
      }),
    );
  } catch (e) {
    if (!isName(e, 'ResourceInUseException')) throw e;
  }
  await waitActive(client, name);
}

/** Brings a table made by an older version up to its definition: indexes, stream, TTL. */
async function upgradeTable(client: DynamoDBClient, t: TableDef, name: string): Promise<void> {
  let table = await waitActive(client, name);
  // DynamoDB takes one new index per UpdateTable
  for (const index of t.indexes) {
    if (table.GlobalSecondaryIndexes?.some((g) => g.IndexName === index.name)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: attributes([index.partitionKey, index.sortKey]),
        GlobalSecondaryIndexUpdates: [{ Create: gsi(index) }],
      }),
    );
    table = await waitActive(client, name);
  }
  if (t.stream && !table.StreamSpecification?.StreamEnabled) {
    // a table kept under .gpupool/ from before streams were used
    await client.send(new UpdateTableCommand({ TableName: name, StreamSpecification: { StreamEnabled: true, StreamViewType: t.stream } }));
    await waitActive(client, name);
  }
  if (t.ttlAttribute) await ensureTtl(client, name, t.ttlAttribute);
}

async function ensureTtl(client: DynamoDBClient, name: string, attribute: string): Promise<void> {
  const d = await client.send(new DescribeTimeToLiveCommand({ TableName: name }));
  const ttl = d.TimeToLiveDescription;
  if (ttl?.AttributeName === attribute && (ttl.TimeToLiveStatus === 'ENABLED' || ttl.TimeToLiveStatus === 'ENABLING')) return;
  try {
    await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: attribute, Enabled: true } }));
  } catch (e) {
    // a concurrent createTables enabled it between our describe and update
    if (!isName(e, 'ValidationException') || !/already enabled/i.test((e as Error).message)) throw e;
  }
}

async function waitActive(client: DynamoDBClient, name: string, timeoutMs = 30_000): Promise<TableDescription> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const table = (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
    const ready = table?.TableStatus === 'ACTIVE' && (table.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === 'ACTIVE');
    if (table && ready) return table;
    if (Date.now() > deadline) throw new Error(`table ${name} did not become ACTIVE within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
