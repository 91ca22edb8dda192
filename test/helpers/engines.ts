// DynamoDB Local (in memory) and the SQS server on free ports, for integration tests. The engines are
// shared by every call in one test process (a JVM start costs about a second) and stop with the last
// caller; each call gets its own tables, under a unique prefix, so tests never see each other's items.
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { TableNames } from '../../functions/store/tables';
import { createTables, tableNamesFor } from '../../lib/local/create-tables';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../lib/local/dynamodb-local';
import { startSqsLocal, type SqsLocal } from '../../lib/local/sqs-local';

export interface Engines {
  ddbEndpoint: string;
  sqsEndpoint: string;
  tableNames: TableNames;
  /** clients for these engines, destroyed by stop() */
  ddb: DynamoDBClient;
  sqs: SQSClient;
  stop(): Promise<void>;
}

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

let shared: Promise<{ ddb: DynamoDbLocal; sqs: SqsLocal }> | undefined;
let users = 0;

async function startShared(): Promise<{ ddb: DynamoDbLocal; sqs: SqsLocal }> {
  const ddb = await startDynamoDbLocal();
  try {
    return { ddb, sqs: await startSqsLocal() };
  } catch (e) {
    await ddb.stop();
    throw e;
  }
}

export async function startEngines(): Promise<Engines> {
  users++;
  let engines: { ddb: DynamoDbLocal; sqs: SqsLocal };
  try {
    engines = await (shared ??= startShared().catch((e) => {
      shared = undefined;
      throw e;
    }));
  } catch (e) {
    users--;
    throw e;
  }
  const ddb = new DynamoDBClient({ endpoint: engines.ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const sqs = new SQSClient({ endpoint: engines.sqs.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    ddb.destroy();
    sqs.destroy();
    if (--users > 0) return;
    shared = undefined;
    await Promise.all([engines.ddb.stop(), engines.sqs.stop()]);
  };
  const tableNames = tableNamesFor(`t${randomUUID().slice(0, 8)}-`);
  try {
    await createTables(ddb, tableNames);
  } catch (e) {
    await stop();
    throw e;
  }
  return { ddbEndpoint: engines.ddb.endpoint, sqsEndpoint: engines.sqs.endpoint, tableNames, ddb, sqs, stop };
}
