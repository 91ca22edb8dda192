// Creates the tables of functions/store/tables.ts in DynamoDB Local: the same keys and indexes as the
// CDK stack, so the code under test sees what it sees on AWS.
import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { TABLES, type KeyDef, type TableNames } from '../../functions/store/tables';

export function tableNamesFor(prefix: string): TableNames {
  return Object.fromEntries(TABLES.map((t) => [t.id, `${prefix}${t.id}`])) as TableNames;
}

const keySchema = (pk: KeyDef, sk?: KeyDef) => [
  { AttributeName: pk.name, KeyType: 'HASH' as const },
  ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
];

/** Idempotent: existing tables are left as they are. */
export async function createTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  await Promise.all(
    TABLES.map(async (t) => {
      const attrs = new Map<string, AttributeDefinition>();
      for (const k of [t.partitionKey, t.sortKey, ...t.indexes.flatMap((i) => [i.partitionKey, i.sortKey])]) {
        if (k) attrs.set(k.name, { AttributeName: k.name, AttributeType: k.type });
      }
      try {
        await client.send(
          new CreateTableCommand({
            TableName: names[t.id],
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [...attrs.values()],
            KeySchema: keySchema(t.partitionKey, t.sortKey),
            ...(t.indexes.length
              ? {
                  GlobalSecondaryIndexes: t.indexes.map((i) => ({
                    IndexName: i.name,
                    KeySchema: keySchema(i.partitionKey, i.sortKey),
                    Projection: { ProjectionType: 'ALL' },
                  })),
                }
              : {}),
          }),
        );
        if (t.ttlAttribute) {
          await client.send(
            new UpdateTimeToLiveCommand({ TableName: names[t.id], TimeToLiveSpecification: { AttributeName: t.ttlAttribute, Enabled: true } }),
          );
        }
      } catch (e) {
        if ((e as Error).name !== 'ResourceInUseException') throw e;
      }
      for (let i = 0; i < 100; i++) {
        const d = await client.send(new DescribeTableCommand({ TableName: names[t.id] }));
        if (d.Table?.TableStatus === 'ACTIVE') return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`table ${names[t.id]} did not become ACTIVE`);
    }),
  );
}
