// Tables from functions/store/tables.ts in DynamoDB Local: idempotent creation, the indexes and TTL the
// stores rely on, and transactions that report why they were cancelled.
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../../functions/store/tables';
import { createTables, tableNamesFor } from '../../../lib/local/create-tables';
import { startEngines, type Engines } from '../../helpers/engines';

let engines: Engines;
beforeAll(async () => {
  engines = await startEngines();
});
afterAll(() => engines?.stop());

describe('createTables', () => {
  it('names tables with the prefix', () => {
    expect(tableNamesFor('gpupool-').jobs).toBe('gpupool-jobs');
  });

  it('creates every table with its keys, indexes (projection ALL) and TTL, and can run again', async () => {
    await createTables(engines.ddb, engines.tableNames); // a second time: nothing to do, no error
    for (const t of TABLES) {
      const { Table } = await engines.ddb.send(new DescribeTableCommand({ TableName: engines.tableNames[t.id] }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      expect(Table?.KeySchema?.map((k) => k.AttributeName)).toEqual([t.partitionKey.name, ...(t.sortKey ? [t.sortKey.name] : [])]);
      const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((g) => ({
        name: g.IndexName,
        keys: g.KeySchema?.map((k) => k.AttributeName),
        projection: g.Projection?.ProjectionType,
      }));
      expect(indexes.sort((a, b) => a.name!.localeCompare(b.name!))).toEqual(
        t.indexes
          .map((i) => ({ name: i.name, keys: [i.partitionKey.name, ...(i.sortKey ? [i.sortKey.name] : [])], projection: 'ALL' }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      );
      const ttl = await engines.ddb.send(new DescribeTimeToLiveCommand({ TableName: engines.tableNames[t.id] }));
      if (t.ttlAttribute) {
        expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: t.ttlAttribute, TimeToLiveStatus: 'ENABLED' });
      } else {
        expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('DISABLED');
      }
    }
  });

  it('adds indexes that an older table lacks', async () => {
    const names = tableNamesFor(`old${Date.now()}-`);
    const keys = TABLES.find((t) => t.id === 'keys')!;
    await engines.ddb.send(
      new CreateTableCommand({
        TableName: names.keys,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    await createTables(engines.ddb, names);
    const { Table } = await engines.ddb.send(new DescribeTableCommand({ TableName: names.keys }));
    expect(Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual(keys.indexes.map((i) => i.name).sort());
  });
});

describe('transactions on DynamoDB Local', () => {
  it('cancel with one reason per item, carrying the old item when asked', async () => {
    const doc = DynamoDBDocumentClient.from(engines.ddb);
    const { jobs, nodes } = engines.tableNames;
    await doc.send(new PutCommand({ TableName: nodes, Item: { id: 'n1', freeGpus: 0 } }));
    const err = await doc
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: jobs, Item: { id: 'j1', status: 'ASSIGNED' }, ConditionExpression: 'attribute_not_exists(id)' } },
            {
              Update: {
                TableName: nodes,
                Key: { id: 'n1' },
                UpdateExpression: 'SET freeGpus = freeGpus - :g',
                ConditionExpression: 'freeGpus >= :g',
                ExpressionAttributeValues: { ':g': 1 },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionCanceledException);
    const reasons = (err as TransactionCanceledException).CancellationReasons ?? [];
    expect(reasons.map((r) => r.Code)).toEqual(['None', 'ConditionalCheckFailed']);
    expect(reasons[1].Item).toEqual({ id: { S: 'n1' }, freeGpus: { N: '0' } });
  });
});
